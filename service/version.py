"""The release of digit-serve, written in this one place: the package metadata (pyproject.toml), the API document
(info.version) and the protocol's server metadata all read it from here."""

__version__ = "0.2.0"
