"""A server that cannot serve says so in one line and exits; one broken version among good ones is reported
as "degraded" by readiness while the good ones serve; a preStop drain turns readiness to 503 first."""

import shutil
import socket
import subprocess
import sys

import pytest
import requests

from support.server import ROOT, running_server
from tests.fixtures import NEWEST

pytestmark = pytest.mark.slow


def _start(model_dir, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "service/transport/http/gunicorn.conf.py"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "MODEL_DIR": str(model_dir),
            "HOST": "127.0.0.1",
            "PORT": "1",
            "DEVICE": "cpu",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: path / "missing", "does not exist"),
        (lambda path: (path / "file").write_text("x") and path / "file", "is not a directory"),
        (lambda path: path, "holds no model version"),
    ],
)
def test_a_model_directory_that_cannot_serve_stops_the_server_with_one_line(tmp_path, make, reason):
    model_dir = make(tmp_path)
    result = _start(model_dir)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and reason in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_one_broken_version_among_good_ones_is_served_around_and_reported(tmp_path, models_dir):
    """The newest CNN is corrupt on disk: the version before it serves, and readiness says what failed."""
    model_dir = tmp_path / "models"
    shutil.copytree(models_dir, model_dir)
    broken = NEWEST["cnn"]
    (model_dir / "cnn" / str(broken) / "model.onnx").write_bytes(b"not the file model.json describes")
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="1", ready_path="/healthz") as server:
        ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "degraded"
        older = {"cnn": broken - 1} if broken > 1 else {}
        assert body["models"] == {name: v for name, v in NEWEST.items() if name != "cnn"} | older
        assert "sha256" in body["failed"][f"cnn/{broken}"]
        assert requests.get(f"{server.url}/v2/health/ready", timeout=5).status_code == 503
        answer = requests.post(f"{server.url}/predict", json={"model": "linear", "inputs": [1]}, timeout=5)
        assert answer.status_code == 200
        if older:
            digit = requests.post(f"{server.url}/predict", json={"model": "cnn", "inputs": [[0.0] * 784]}, timeout=5)
            assert digit.status_code == 200 and digit.json()["version"] == older["cnn"]
        assert server.log().count(f"not serving cnn version {broken}") == 1


def test_the_prestop_drain_turns_readiness_to_503_while_requests_still_succeed(tmp_path, models_dir):
    state_dir = tmp_path / "state"
    with running_server(tmp_path, MODEL_DIR=str(models_dir), STATE_DIR=str(state_dir)) as server:
        assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200
        drain = subprocess.Popen(
            [sys.executable, "-m", "service.healthcheck", "--drain", "0.5"],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "STATE_DIR": str(state_dir)},
        )
        assert drain.wait(10) == 0
        ready = requests.get(f"{server.url}/readyz", timeout=5)
        assert (ready.status_code, ready.json()["status"]) == (503, "draining")
        answer = requests.post(f"{server.url}/predict", json={"model": "linear", "inputs": [1]}, timeout=5)
        assert answer.status_code == 200


def test_no_loadable_version_at_all_stops_the_server_naming_each_failure(tmp_path, models_dir):
    model_dir = tmp_path / "models"
    shutil.copytree(models_dir, model_dir)
    for onnx in model_dir.glob("*/*/model.onnx"):
        onnx.write_bytes(b"broken")
    result = _start(model_dir)
    # gunicorn halts with 3, or with 1 when the worker dies before the master's loop has started
    assert result.returncode != 0
    assert "Worker failed to boot" in result.stderr
    assert "no loadable model" in result.stderr
    for name in ("cnn", "linear", "mlp"):  # each model's newest version is among the ones it tried
        assert f"{name}/{NEWEST[name]}: model.onnx sha256" in result.stderr


def test_a_grpc_port_another_program_holds_stops_the_server_with_one_line(models_dir):
    """gRPC binds with SO_REUSEPORT, so before issue 36 it shared a port held by another listener (another
    instance) and half the gRPC clients reached the wrong server. Now the start fails, as HTTP does."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # the way another instance's gRPC holds it
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _start(models_dir, GRPC_PORT=str(port))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and f"cannot listen for gRPC on 127.0.0.1:{port} (GRPC_PORT)" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
