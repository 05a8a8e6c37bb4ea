"""The isdigit model: a short real run through training, calibration, export, gate and publish."""

from __future__ import annotations

import json

import numpy as np
import pytest

from service.core.model import load_version
from training.__main__ import main
from training.learn.isdigit import calibrate


def test_the_threshold_accepts_the_share_of_digits_it_is_asked_to():
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.uniform(0.3, 1.0, 1000), rng.uniform(0.0, 0.5, 500)])
    labels = np.concatenate([np.ones(1000, int), np.zeros(500, int)])
    threshold, accepted, rejected = calibrate(scores, labels, accept=0.99)
    assert accepted >= 0.99 and np.mean(scores[:1000] >= threshold) == accepted
    assert rejected == np.mean(scores[1000:] < threshold) and 0.3 <= threshold <= 0.4


@pytest.mark.slow
def test_a_short_run_is_gated_on_rejection_and_publishes_a_servable_version(mnist_dir, tmp_path, capsys):
    common = ["isdigit", "--limit", "3000", "--epochs", "1", "--data-dir", str(mnist_dir), "--no-keras"]
    # A minute's training rejects far fewer than 0.999 of its calibration non-digits: nothing is published.
    assert main([*common, "--model-dir", str(tmp_path / "refused"), "--min-accuracy", "0.999"]) == 2
    assert "nothing published" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "isdigit").exists()
    assert main([*common, "--model-dir", str(tmp_path), "--min-accuracy", "0.0"]) == 0
    card = json.loads((tmp_path / "isdigit" / "1" / "model.json").read_text())
    assert card["labels"] == ["not a digit", "digit"] and 0.0 < card["threshold"] < 1.0
    assert card["metrics"]["calibration"]["accepted"] >= 0.99
    version = load_version(tmp_path / "isdigit" / "1", ["CPUExecutionProvider"], 1)
    scores = version.run({"pixels": np.zeros((2, 28, 28, 1), np.float32)})[0]
    assert scores.shape == (2, 2) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
