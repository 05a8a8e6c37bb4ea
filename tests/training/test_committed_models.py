"""Every committed model version: valid, self-consistent, and as accurate as the figures claim."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.fixtures import MODELS, committed_versions

# The first 1,000 MNIST test images are harder than the rest for these models; the full-set
# figures (in model.json) are checked against the README's claims, the sample against margins below them.
SAMPLE_ACCURACY = {"mlp": 0.975, "cnn": 0.985}
FULL_SET_ACCURACY = {"mlp": 0.983, "cnn": 0.993}
# What the newest versions must keep while they learn real-world digits (issue 13): MNIST does not get worse.
NEWEST_FULL_SET_ACCURACY = {"mlp": 0.989, "cnn": 0.993}


VERSIONS = [(name, version) for name in ("mlp", "cnn", "linear") for version in committed_versions(name)]
CLASSIFIER_VERSIONS = [(name, version) for name, version in VERSIONS if name != "linear"]


def _card(name: str, version: int) -> dict:
    return json.loads((MODELS / name / str(version) / "model.json").read_text())


@pytest.mark.parametrize(("name", "version"), VERSIONS)
def test_committed_model_is_valid_and_matches_its_card(name, version):
    version_dir = MODELS / name / str(version)
    card = _card(name, version)
    data = (version_dir / "model.onnx").read_bytes()
    assert card["name"] == name
    assert card["version"] == version
    assert card["onnx"]["sha256"] == hashlib.sha256(data).hexdigest()
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)


@pytest.mark.parametrize(("name", "version"), CLASSIFIER_VERSIONS)
def test_committed_classifier_accuracy(name, version, mnist_sample):
    card = _card(name, version)
    newest = version == committed_versions(name)[-1]
    assert card["metrics"]["test_accuracy"] >= (NEWEST_FULL_SET_ACCURACY if newest else FULL_SET_ACCURACY)[name]
    assert card["metrics"]["test_samples"] == 10_000
    assert card["parameters"] == {"mlp": 407_050, "cnn": 93_322}[name]
    images, labels = mnist_sample
    session = ort.InferenceSession(str(MODELS / name / str(version) / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = (images / 255.0).astype(np.float32).reshape(len(images), *card["inputs"][0]["shape"][1:])
    accuracy = float(np.mean(session.run(None, {"pixels": batch})[0].argmax(axis=1) == labels))
    assert accuracy >= SAMPLE_ACCURACY[name]


@pytest.mark.parametrize(("name", "version"), CLASSIFIER_VERSIONS)
def test_every_classifier_card_records_the_real_world_figures(name, version):
    """`make evaluate` wrote them (training/evaluation/evaluate.py --write-cards): every subset, the full set."""
    from training.datasets.evalset import SUBSETS

    found = _card(name, version)["metrics"]["real_world"]
    assert found["images"] == 1000 and set(found["subsets"]) == set(SUBSETS)
    assert found["accuracy"] == pytest.approx(np.mean(list(found["subsets"].values())), abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "version"), CLASSIFIER_VERSIONS)
def test_committed_classifier_full_test_set_accuracy(name, version, mnist_dir):
    from training.datasets.mnist import load_idx_dir

    data = load_idx_dir(mnist_dir)
    card = _card(name, version)
    session = ort.InferenceSession(str(MODELS / name / str(version) / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = (data.x_test / 255.0).astype(np.float32).reshape(10_000, *card["inputs"][0]["shape"][1:])
    accuracy = float(np.mean(session.run(None, {"pixels": batch})[0].argmax(axis=1) == data.y_test))
    assert accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=2e-4)
    assert accuracy >= FULL_SET_ACCURACY[name]


def test_committed_linear_model_reproduces_the_decks_run():
    card = _card("linear", committed_versions("linear")[-1])
    assert card["coefficients"]["w"] == pytest.approx(21.0, abs=0.5)
    assert card["coefficients"]["b"] == pytest.approx(4.4, abs=1.0)
    assert card["metrics"]["relative_distance_to_least_squares"] < 1e-3
