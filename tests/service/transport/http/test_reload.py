"""Hot reload with several workers under traffic: publish, load, and every later request gets the new version."""

import shutil
import threading

import pytest
import requests

from support.server import running_server, wait_until
from tests.repository import add_version, sha256

pytestmark = pytest.mark.slow
TOKEN = "reload-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def model_dir(tmp_path, models_dir):
    target = tmp_path / "models"
    shutil.copytree(models_dir, target)
    return target


def _publish_copy(model_dir, name: str, corrupt: bytes | None = None, wrong_sha: bool = False) -> int:
    """Version 1's files again as the next version."""
    return add_version(model_dir, name, corrupt, sha="0" * 64 if wrong_sha else None)


def _predict_version(url: str) -> int:
    response = requests.post(f"{url}/predict", json={"model": "linear", "inputs": [1]}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["version"]


def test_load_swaps_every_worker_without_failing_a_request(tmp_path, model_dir):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="3", THREADS="2", ADMIN_TOKEN=TOKEN) as server:
        failures, answered, stop = [], [], threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                try:
                    response = requests.post(
                        f"{server.url}/predict", json={"model": "linear", "inputs": [2]}, timeout=10
                    )
                    (answered if response.status_code == 200 else failures).append(response.status_code)
                except requests.RequestException as exc:
                    failures.append(repr(exc))

        threads = [threading.Thread(target=traffic) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(answered) >= 10, 15, "traffic to start")
            assert _publish_copy(model_dir, "linear") == 2
            assert _predict_version(server.url) == 1  # published is not served until loaded
            response = requests.post(f"{server.url}/v2/repository/models/linear/load", headers=AUTH, timeout=30)
            assert response.status_code == 200, response.text
            assert response.json()["version"] == 2
            seen = {_predict_version(server.url) for _ in range(60)}  # fresh connections reach every worker
            assert seen == {2}
            after_load = len(answered)
            wait_until(lambda: len(answered) >= after_load + 10, 15, "traffic to go on after the load")
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert failures == []
        assert len(answered) >= 20
        # the previous version stays addressable
        response = requests.post(f"{server.url}/predict?version=1", json={"model": "linear", "inputs": [1]}, timeout=5)
        assert response.json()["version"] == 1


@pytest.mark.parametrize(
    ("corrupt", "wrong_sha", "reason"),
    [
        (b"not an onnx model", False, "does not match model.json"),
        (None, True, "does not match model.json"),
    ],
)
def test_a_broken_version_is_refused_and_the_current_one_keeps_serving(tmp_path, model_dir, corrupt, wrong_sha, reason):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="2", ADMIN_TOKEN=TOKEN) as server:
        version = _publish_copy(model_dir, "linear", corrupt=corrupt, wrong_sha=wrong_sha)
        response = requests.post(f"{server.url}/v2/repository/models/linear/load", headers=AUTH, timeout=30)
        assert response.status_code == 400
        assert reason in response.json()["error"]
        assert response.json()["error"].startswith(f"linear/{version}: ")  # named, never by its path on the server
        assert str(model_dir) not in response.json()["error"]
        assert {_predict_version(server.url) for _ in range(20)} == {1}


def test_a_version_onnxruntime_cannot_load_is_refused(tmp_path, model_dir):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="2", ADMIN_TOKEN=TOKEN) as server:
        garbage = b"\x08\x07garbage that is not a protobuf model"
        add_version(model_dir, "linear", garbage, sha=sha256(garbage))
        response = requests.post(f"{server.url}/v2/repository/models/linear/load", headers=AUTH, timeout=30)
        assert response.status_code == 400
        assert "onnxruntime cannot load" in response.json()["error"]
        assert _predict_version(server.url) == 1


def test_unload_then_load_in_every_worker(tmp_path, model_dir):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="2", ADMIN_TOKEN=TOKEN) as server:
        assert requests.post(f"{server.url}/v2/repository/models/mlp/unload", headers=AUTH, timeout=10).ok
        for _ in range(20):
            assert requests.get(f"{server.url}/v2/models/mlp/ready", timeout=5).status_code == 404
        assert requests.post(f"{server.url}/v2/repository/models/mlp/load", headers=AUTH, timeout=30).ok
        for _ in range(20):
            assert requests.get(f"{server.url}/v2/models/mlp/ready", timeout=5).status_code == 200


def test_polling_picks_up_a_new_version(tmp_path, model_dir):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="2", MODEL_POLL_SECONDS="0.5") as server:
        _publish_copy(model_dir, "linear")
        wait_until(lambda: _predict_version(server.url) == 2, 45, "the new version to be picked up")
        assert {_predict_version(server.url) for _ in range(20)} == {2}
