"""The service serves what the training side publishes: an exported version answers when it is asked for, and a
retrain with --reload-url makes every worker of a running server serve the new version."""

import hashlib
import json
import shutil

import pytest
import requests

from service import create_app
from service.settings import Settings
from support.server import running_server
from training.__main__ import main as retrain
from training.release.export import export_linear
from training.release.publish import publish_version

TOKEN = "reload-token"


@pytest.fixture(scope="module")
def two_linear_versions(tmp_path_factory, models_dir):
    """A repository holding the committed linear model as version 1 and y = 2x as version 2."""
    repository = tmp_path_factory.mktemp("versions")
    shutil.copytree(models_dir / "linear", repository / "linear")
    card = json.loads((repository / "linear" / "1" / "model.json").read_text())
    onnx_bytes = export_linear(2.0, 0.0, doc="y = 2x").SerializeToString()
    card["onnx"]["sha256"] = hashlib.sha256(onnx_bytes).hexdigest()
    assert publish_version(repository, "linear", {"model.onnx": onnx_bytes}, card)[0] == 2
    return create_app(Settings.from_env({}, model_dir=repository, workers=1)).test_client(), card


@pytest.mark.parametrize(("where", "version"), [("body", 1), ("query", 1), ("body", 2), ("query", "2"), (None, None)])
def test_the_requested_version_is_the_one_that_answers(two_linear_versions, models_dir, where, version):
    client, _ = two_linear_versions
    v1 = json.loads((models_dir / "linear" / "1" / "model.json").read_text())["coefficients"]
    body = {"model": "linear", "inputs": [10.0]}
    if where == "body":
        body["version"] = version
    response = client.post("/predict" + (f"?version={version}" if where == "query" else ""), json=body)
    answered = response.get_json()
    expected_version = int(version) if version is not None else 2  # the newest serves by default
    assert answered["version"] == expected_version
    expected = 10 * v1["w"] + v1["b"] if expected_version == 1 else 20.0
    assert answered["predictions"] == [pytest.approx(expected, rel=1e-6)]


@pytest.fixture
def model_dir(tmp_path, models_dir):
    target = tmp_path / "models"
    shutil.copytree(models_dir, target)
    return target


def _predict_version(url: str) -> int:
    response = requests.post(f"{url}/predict", json={"model": "linear", "inputs": [1]}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["version"]


@pytest.mark.slow
def test_retrain_with_reload_url_makes_the_service_serve_the_new_version(tmp_path, model_dir, monkeypatch, capsys):
    with running_server(tmp_path, MODEL_DIR=str(model_dir), WORKERS="2", ADMIN_TOKEN=TOKEN) as server:
        monkeypatch.setenv("ADMIN_TOKEN", TOKEN)
        assert retrain(["linear", "--model-dir", str(model_dir), "--seed", "3", "--reload-url", server.url]) == 0
        assert "/v2/repository/models/linear/load: 200" in capsys.readouterr().out
        assert {_predict_version(server.url) for _ in range(20)} == {2}
