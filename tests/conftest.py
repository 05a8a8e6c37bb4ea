"""Shared fixtures: the committed models, the committed MNIST sample, the real MNIST files when present, and one
real server per configuration. The constants they are built from, which tests import too, are in tests/fixtures.py."""

from __future__ import annotations

import os

# Before any test module imports onnxruntime; every subprocess the tests start inherits it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from support.server import Server, running_server, unused_port, wait_grpc_ready
from tests.fixtures import MODELS, PROTOCOL_ADMIN_TOKEN, PROTOCOL_MAX_INSTANCES, ROOT, SAMPLE, ProtocolServer


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The first 1,000 MNIST test images (uint8, 28x28) and labels."""
    with np.load(SAMPLE) as data:
        return data["images"], data["labels"]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full MNIST IDX files; tests that need them are skipped where the directory is absent."""
    candidates = [os.environ.get("MNIST_DIR"), ROOT.parent / "shared" / "data" / "mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    pytest.skip("the MNIST IDX files are not present (set MNIST_DIR)")


# -- one real server per configuration, shared by the whole session ------------------------------------------
# Each starts only when a test asks for it and stops at the end of the session. Tests that share one compare
# counters before and after, find their own log lines by request id, and leave what they load as they found it.
@pytest.fixture(scope="session")
def http_server(tmp_path_factory, models_dir) -> Iterator[Server]:
    """gunicorn as `make serve` runs it (two workers, HTTP only, no keys, no model control)."""
    with running_server(tmp_path_factory.mktemp("http"), MODEL_DIR=str(models_dir), WORKERS="2") as server:
        yield server


@pytest.fixture(scope="session")
def protocol_server(tmp_path_factory, models_dir) -> Iterator[ProtocolServer]:
    """HTTP and gRPC, model control on (PROTOCOL_ADMIN_TOKEN), MAX_INSTANCES of 512, on a model directory of its
    own: the open inference protocol's tests, its official clients and perf_analyzer share it."""
    model_dir = tmp_path_factory.mktemp("protocol-models") / "models"
    shutil.copytree(models_dir, model_dir)
    port = unused_port()
    with running_server(
        tmp_path_factory.mktemp("protocol"),
        MODEL_DIR=str(model_dir),
        GRPC_PORT=str(port),
        ADMIN_TOKEN=PROTOCOL_ADMIN_TOKEN,
        MAX_INSTANCES=str(PROTOCOL_MAX_INSTANCES),
    ) as server:
        target = f"127.0.0.1:{port}"
        with grpcclient.InferenceServerClient(target) as client:
            wait_grpc_ready(client, why=lambda: server.log()[-3000:])
        yield ProtocolServer(server.url, target, server)
