"""The committed version 1 of each model: valid, self-consistent, and as accurate as the figures claim."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

# The first 1,000 MNIST test images are harder than the rest for these models; the full-set
# figures (in model.json) are checked against the README's claims, the sample against margins below them.
SAMPLE_ACCURACY = {"mlp": 0.975, "cnn": 0.985}
FULL_SET_ACCURACY = {"mlp": 0.983, "cnn": 0.993}


@pytest.mark.parametrize("name", ["mlp", "cnn", "linear"])
def test_committed_model_is_valid_and_matches_its_card(name, models_dir):
    version_dir = models_dir / name / "1"
    card = json.loads((version_dir / "model.json").read_text())
    data = (version_dir / "model.onnx").read_bytes()
    assert card["name"] == name
    assert card["version"] == 1
    assert card["onnx"]["sha256"] == hashlib.sha256(data).hexdigest()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_committed_classifier_accuracy(name, models_dir, mnist_sample):
    card = json.loads((models_dir / name / "1" / "model.json").read_text())
    assert card["metrics"]["test_accuracy"] >= FULL_SET_ACCURACY[name]
    assert card["metrics"]["test_samples"] == 10_000
    images, labels = mnist_sample
    session = ort.InferenceSession(str(models_dir / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = (images / 255.0).astype(np.float32).reshape(len(images), *card["inputs"][0]["shape"][1:])
    accuracy = float(np.mean(session.run(None, {"pixels": batch})[0].argmax(axis=1) == labels))
    assert accuracy >= SAMPLE_ACCURACY[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_committed_classifier_full_test_set_accuracy(name, models_dir, mnist_dir):
    from training.data import load_idx_dir

    data = load_idx_dir(mnist_dir)
    card = json.loads((models_dir / name / "1" / "model.json").read_text())
    session = ort.InferenceSession(str(models_dir / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = (data.x_test / 255.0).astype(np.float32).reshape(10_000, *card["inputs"][0]["shape"][1:])
    accuracy = float(np.mean(session.run(None, {"pixels": batch})[0].argmax(axis=1) == data.y_test))
    assert accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=2e-4)
    assert accuracy >= FULL_SET_ACCURACY[name]


def test_committed_linear_model_reproduces_the_decks_run(models_dir):
    card = json.loads((models_dir / "linear" / "1" / "model.json").read_text())
    assert card["coefficients"]["w"] == pytest.approx(21.0, abs=0.5)
    assert card["coefficients"]["b"] == pytest.approx(4.4, abs=1.0)
    assert card["metrics"]["relative_distance_to_least_squares"] < 1e-3
