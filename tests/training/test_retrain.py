"""A real, short retrain through export, parity check, gate and publish, into a temporary model dir."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from training.__main__ import main
from training.datasets import typeset

REQUIRED_CARD_KEYS = {
    "name",
    "version",
    "task",
    "inputs",
    "outputs",
    "preprocessing",
    "labels",
    "parameters",
    "metrics",
    "training",
    "data",
    "onnx",
    "created_at",
    "libraries",
}


def _card(path):
    return json.loads((path / "model.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_short_run_publishes_a_verified_version(name, mnist_dir, tmp_path, capsys, mnist_sample):
    args = [
        name,
        "--limit",
        "3000",
        "--epochs",
        "1",
        "--min-accuracy",
        "0.5",
        "--data-dir",
        str(mnist_dir),
        "--model-dir",
        str(tmp_path),
        "--no-keras",
    ]
    assert main(args) == 0
    version_dir = tmp_path / name / "1"
    card = _card(version_dir)
    assert card.keys() >= REQUIRED_CARD_KEYS
    assert card["version"] == 1
    assert card["training"]["train_samples"] == 2700
    # The CNN's recipe adds degraded copies of half the split (a few that the preprocessing refuses are left out),
    # and typed digits of 0.15 of it where the training fonts are installed (training/datasets/typeset.py).
    degraded = card["training"]["degraded_samples"]
    typed = round(0.15 * 2700) if typeset.available() else 0
    assert degraded == 0 if name == "mlp" else 1300 + typed <= degraded <= 1350 + typed
    assert card["onnx"]["sha256"] == hashlib.sha256((version_dir / "model.onnx").read_bytes()).hexdigest()
    assert card["metrics"]["onnx_parity_max_abs_diff"] <= 1e-5
    assert {"tensorflow", "keras", "tf2onnx", "onnx"} <= card["libraries"].keys()
    assert (version_dir / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (version_dir / "model.keras").exists()
    proto = onnx.load(version_dir / "model.onnx")
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version >= 17
    session = ort.InferenceSession(str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    images, _ = mnist_sample
    batch = (images[:7] / 255.0).astype(np.float32).reshape(7, *card["inputs"][0]["shape"][1:])
    probabilities = session.run(None, {"pixels": batch})[0]
    assert probabilities.shape == (7, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert name in capsys.readouterr().out  # the summary table

    assert main(args) == 0
    assert _card(tmp_path / name / "2")["version"] == 2


@pytest.mark.slow
def test_gate_refuses_to_publish_a_weak_model(mnist_dir, tmp_path, capsys):
    args = [
        "mlp",
        "--limit",
        "500",
        "--epochs",
        "1",
        "--min-accuracy",
        "0.999",
        "--data-dir",
        str(mnist_dir),
        "--model-dir",
        str(tmp_path),
    ]
    assert main(args) == 2
    assert "under the minimum 0.9990; nothing published" in capsys.readouterr().err
    assert not (tmp_path / "mlp").exists() or list((tmp_path / "mlp").iterdir()) == []


def test_linear_run_publishes_a_tiny_graph_matching_least_squares(tmp_path):
    assert main(["linear", "--model-dir", str(tmp_path)]) == 0
    card = _card(tmp_path / "linear" / "1")
    assert card["metrics"]["relative_distance_to_least_squares"] < 1e-3
    session = ort.InferenceSession(str(tmp_path / "linear" / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("x", ["batch", 1])]
    y = session.run(None, {"x": np.array([[0.0], [1.0]], dtype=np.float32)})[0]
    w, b = card["coefficients"]["w"], card["coefficients"]["b"]
    np.testing.assert_allclose(y[:, 0], [b, w + b], rtol=1e-6)


def test_reload_url_that_is_unreachable_is_a_clear_error(tmp_path, capsys):
    assert main(["linear", "--model-dir", str(tmp_path), "--reload-url", "http://127.0.0.1:9"]) == 3
    assert "unreachable" in capsys.readouterr().err
