"""onnxruntime's telemetry stays off in every process the project starts, without the caller's help.

onnxruntime >= 1.29 writes a device id and an upload queue under ~/.cache/Microsoft/DeveloperTools
unless ORT_DISABLE_TELEMETRY is set before it initialises, and its threads, inherited by forked gunicorn
workers, abort them on shutdown. Each test here removes the variable from the environment it hands
over and points HOME at an empty directory, so it is the project's own code that must turn telemetry
off, and any trace would land where the test looks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from support.server import ROOT, Server, running_server, spawn_gunicorn, stop, wait_ready
from tests.images import png

pytestmark = pytest.mark.slow

TELEMETRY_CACHE = Path(".cache") / "Microsoft" / "DeveloperTools"
GRACEFUL_TIMEOUT_S = 20  # service/transport/http/gunicorn.conf.py


def _clean_env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), TF_CPP_MIN_LOG_LEVEL="2")
    return env


def _traces(home: Path) -> list[str]:
    return (
        sorted(str(path.relative_to(home)) for path in (home / TELEMETRY_CACHE).rglob("*"))
        if (home / TELEMETRY_CACHE).exists()
        else []
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def _exercise(url: str, mnist_sample) -> None:
    images, _ = mnist_sample
    with requests.Session() as session:
        for model in ("mlp", "cnn"):
            response = session.post(
                f"{url}/predict",
                params={"model": model},
                data=png(images[0]),
                headers={"Content-Type": "image/png"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
        response = session.post(f"{url}/predict", json={"model": "linear", "inputs": [1.0]}, timeout=10)
        assert response.status_code == 200, response.text


def _server_left_alone(tmp_path: Path, home: Path, models_dir: Path):
    """The real server with the variable removed and HOME empty: only the project's own code can turn it off."""
    env = _clean_env(home)
    return running_server(
        tmp_path,
        unset=("ORT_DISABLE_TELEMETRY",),
        HOME=env["HOME"],
        XDG_CACHE_HOME=env["XDG_CACHE_HOME"],
        MODEL_DIR=str(models_dir),
    )


def test_the_server_leaves_no_telemetry_behind(tmp_path, home, models_dir, mnist_sample):
    with _server_left_alone(tmp_path, home, models_dir) as server:
        _exercise(server.url, mnist_sample)
    assert _traces(home) == []


def test_workers_shut_down_cleanly_on_sigterm(tmp_path, home, models_dir, mnist_sample):
    with _server_left_alone(tmp_path, home, models_dir) as server:
        _exercise(server.url, mnist_sample)
        started = time.monotonic()
        os.kill(server.process.pid, signal.SIGTERM)  # what docker stop and a Kubernetes rollout send
        code = server.process.wait(GRACEFUL_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
        log = server.log()
    assert code == 0, log
    assert elapsed < GRACEFUL_TIMEOUT_S, f"shutdown took {elapsed:.1f} s:\n{log}"
    for sign in ("SIGABRT", "terminate called", "was sent", "exited with code"):
        assert sign not in log, log
    assert log.count("Worker exiting") == 2, log


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_training_export_verification_leaves_no_telemetry_behind(model, tmp_path, home, request):
    """The retrain command exports, then checks the ONNX file in onnxruntime against Keras or numpy."""
    args = [model, "--model-dir", str(tmp_path / "models"), "--no-keras"]
    if model != "linear":
        mnist = request.getfixturevalue("mnist_dir")  # skips, before anything starts, where MNIST is absent
        args += ["--data-dir", str(mnist), "--limit", "600", "--epochs", "1", "--min-accuracy", "0"]
    result = subprocess.run(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert (tmp_path / "models" / model / "1" / "model.onnx").is_file()
    assert _traces(home) == []


# What a test module does that creates onnxruntime sessions in the pytest process itself: pytest imports the
# suite's conftest first, then the test runs a committed model in onnxruntime directly, not through the service
# (whose package turns telemetry off on import).
SUITE_SESSION = """
import tests.conftest
import numpy as np
import onnxruntime
from tests.fixtures import MODELS, NEWEST
session = onnxruntime.InferenceSession(MODELS / "cnn" / str(NEWEST["cnn"]) / "model.onnx")
(scores,) = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 28, 28, 1), np.float32)})
print(scores.shape)
"""


def test_the_test_suite_leaves_no_telemetry_behind(home):
    """The suite's conftest turns telemetry off before any test creates an onnxruntime session."""
    result = subprocess.run(
        [sys.executable, "-c", SUITE_SESSION],
        cwd=ROOT,
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "(1, 10)"
    assert _traces(home) == []


def test_the_benchmarks_reference_app_leaves_no_telemetry_behind(tmp_path, home, models_dir):
    """bench/plain_app.py runs under plain gunicorn, without the service's config: it must turn telemetry off itself."""
    env = {**_clean_env(home), "MODEL_DIR": str(models_dir)}
    process, url = spawn_gunicorn(
        ["-w", "1", "-k", "sync", "--chdir", str(ROOT / "bench"), "plain_app:app"], env, tmp_path / "plain.log"
    )
    server = Server(url, process, tmp_path / "plain.log")
    try:
        wait_ready(server, 1, timeout=60, path="/healthz")
        answer = requests.post(f"{url}/predict", json={"model": "mlp", "inputs": [[0.0] * 784]}, timeout=10)
        assert answer.status_code == 200
    finally:
        stop(process)
    assert _traces(home) == []
