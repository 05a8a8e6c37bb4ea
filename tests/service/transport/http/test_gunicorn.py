"""The real gunicorn on loopback, with the committed models: the service as users run it."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import requests

from support.server import ROOT
from tests.images import png

pytestmark = pytest.mark.slow


@pytest.fixture
def server(http_server):
    return http_server


def _model_accuracy(models_dir: Path, name: str, images: np.ndarray, labels: np.ndarray) -> float:
    session = ort.InferenceSession(str(models_dir / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape[1:]
    batch = (images / 255.0).astype(np.float32).reshape(len(images), *shape)
    return float(np.mean(session.run(None, {"pixels": batch})[0].argmax(axis=1) == labels))


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_mnist_digits_sent_as_png_are_classified_at_the_models_own_accuracy(server, models_dir, mnist_sample, name):
    images, labels = mnist_sample
    predicted = []
    for start in range(0, len(images), 100):
        files = [("image", (f"{i}.png", png(images[i]), "image/png")) for i in range(start, start + 100)]
        response = requests.post(f"{server.url}/predict", params={"model": name}, files=files, timeout=30)
        assert response.status_code == 200, response.text
        predicted += [p["label"] for p in response.json()["predictions"]]
    over_http = float(np.mean(np.array(predicted) == labels))
    assert over_http >= _model_accuracy(models_dir, name, images, labels) - 0.002
    assert over_http >= 0.985


def test_single_raw_png_and_json_requests(server, mnist_sample):
    images, labels = mnist_sample
    for i in range(5):
        response = requests.post(
            f"{server.url}/predict", data=png(images[i]), headers={"Content-Type": "image/png"}, timeout=10
        )
        assert response.json()["predictions"][0]["label"] == labels[i]
    response = requests.post(f"{server.url}/predict", json={"model": "linear", "inputs": [1, 2]}, timeout=10)
    assert response.json()["model"] == "linear"
    assert len(response.json()["predictions"]) == 2


def test_errors_do_not_kill_workers(server):
    workers = sorted(server.worker_pids())
    assert len(workers) == 2
    for _ in range(10):
        assert (
            requests.post(
                f"{server.url}/predict", data=b"\x89PNG garbage", headers={"Content-Type": "image/png"}, timeout=10
            ).status_code
            == 415
        )
        assert (
            requests.post(
                f"{server.url}/predict", data="{", headers={"Content-Type": "application/json"}, timeout=10
            ).status_code
            == 400
        )
    assert sorted(server.worker_pids()) == workers
    assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200


def test_no_serving_process_has_tensorflow_loaded(server):
    pids = [server.process.pid, *server.worker_pids()]
    assert len(pids) == 3
    for pid in pids:
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "onnxruntime" in maps or pid == server.process.pid
        assert "tensorflow" not in maps.lower(), f"process {pid} has TensorFlow mapped"


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has a CUDA provider")
def test_device_cuda_without_a_gpu_fails_at_start_with_a_clear_message(models_dir):
    # PORT 1 is never bound: the check must refuse before gunicorn binds anything.
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "service/transport/http/gunicorn.conf.py"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DEVICE": "cuda", "MODEL_DIR": str(models_dir), "HOST": "127.0.0.1", "PORT": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DEVICE=cuda but onnxruntime offers no CUDAExecutionProvider" in result.stderr


def test_reading_the_gunicorn_configuration_has_no_effects(tmp_path):
    """gunicorn reads the file again on HUP and for --check-config: the runtime directory is made in on_starting."""
    probe = (
        "import os, runpy, sys\n"
        "before = dict(os.environ)\n"
        "runpy.run_path('service/transport/http/gunicorn.conf.py')\n"
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))\n"
        "loaded = [m for m in ('prometheus_client', 'flask', 'onnxruntime') if m in sys.modules]\n"
        "print(changed, loaded, os.listdir(os.environ['TMPDIR']))\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("STATE_DIR", "PROMETHEUS_MULTIPROC_DIR")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**environ, "TMPDIR": str(tmp_path), "ORT_DISABLE_TELEMETRY": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] [] []"  # no variable set, nothing heavy imported, no directory made
