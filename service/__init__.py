"""digit-serve: MNIST and linear models behind HTTP with onnxruntime. Never imports TensorFlow."""

from __future__ import annotations

import os

# onnxruntime >= 1.29 collects and uploads telemetry unless this is set before it initialises, and its
# uploader threads abort forked gunicorn workers on shutdown. Off by default; a deliberate setting wins.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from typing import TYPE_CHECKING

__all__ = ["__version__", "create_app"]

if TYPE_CHECKING:
    from flask import Flask

    from service.core.registry import ModelRegistry
    from service.settings import Settings

from service.version import __version__


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """The app factory (service.transport.http.app.create_app). Imported lazily, so that importing the package, as
    gunicorn.conf.py does for the settings, loads neither Flask nor prometheus_client: the metrics' storage
    is chosen when prometheus_client is first imported, after the master has set PROMETHEUS_MULTIPROC_DIR."""
    from service.transport.http.app import create_app as factory

    return factory(settings, registry)
