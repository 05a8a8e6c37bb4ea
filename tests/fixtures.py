"""What the tests share besides pytest's fixtures: where the committed models and data are, which versions the
service serves and loads, and the protocol server's settings. Tests import these from here; tests/conftest.py
holds only the fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.settings import Settings
from support.server import Server

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SAMPLE = ROOT / "tests" / "data" / "mnist_test_1000.npz"


def committed_versions(name: str) -> list[int]:
    """The versions of `name` in the committed model repository, oldest first."""
    return sorted(int(p.name) for p in (MODELS / name).iterdir() if p.name.isdigit() and (p / "model.json").is_file())


# What the service serves by default: each model's newest committed version.
NEWEST = {name: committed_versions(name)[-1] for name in ("mlp", "cnn", "linear", "isdigit", "linereader", "charmodel")}
# What a server loads of each: the newest MAX_VERSIONS (default 3) of its committed versions.
LOADED = {name: committed_versions(name)[-Settings.max_versions :] for name in NEWEST}

# The protocol server (tests/conftest.py's protocol_server): model control on, and room for large batches.
PROTOCOL_ADMIN_TOKEN = "protocol-admin"
PROTOCOL_MAX_INSTANCES = 512


@dataclass(frozen=True)
class ProtocolServer:
    """The real gunicorn with the gRPC server beside it: its HTTP base URL, its gRPC target, the server."""

    url: str
    grpc_target: str
    server: Server
