"""The corrections journey end to end: a user's corrections through a real server's POST /feedback, `make finetune`
against that server (the served version as the base, the gate, publishing, the reload), and the new version
answering /predict, with a card that traces every correction to its store and id."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from support.server import running_server
from tests.fixtures import NEWEST, ROOT
from tests.training.writer import writer_png

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]
TOKEN = "journey-token"
PER_DIGIT = 8
MAKE_TIMEOUT_S = 360
# Per rendering: one digit is 0.0025 of 400, so a fine-tune may lose two net digits in a rendering (0.005), not
# one in 60 (0.017); fewer would refuse on noise. TF_DETERMINISTIC_OPS: the same fine-tune on every run.
RENDERING_DIGITS = 400


def test_corrections_sent_to_the_server_make_a_version_it_then_serves(tmp_path, models_dir, mnist_dir):
    models, feedback = tmp_path / "models", tmp_path / "feedback"
    shutil.copytree(models_dir, models)
    base = NEWEST["cnn"]
    env = {"MODEL_DIR": str(models), "FEEDBACK_DIR": str(feedback), "FEEDBACK_INSTANCE": "pod-a", "WORKERS": "1"}
    with running_server(tmp_path, ADMIN_TOKEN=TOKEN, **env) as server:
        for label in range(10):
            for index in range(PER_DIGIT):
                answer = requests.post(
                    f"{server.url}/feedback",
                    params={"label": label, "model": "cnn", "version": base},
                    data=writer_png(label, index),
                    headers={"Content-Type": "image/png"},
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text
        venv = Path(sys.prefix)
        finetuned = subprocess.run(
            ["make", "-s", "-o", f"{venv}/.installed", "finetune", f"VENV={venv}", f"FEEDBACK_DIR={feedback}",
             f"MODEL_DIR={models}", f"RELOAD_URL={server.url}", f"MNIST_DIR={mnist_dir}",
             f"FINETUNE_ARGS=--epochs 2 --mix 4000 --rendering-digits {RENDERING_DIGITS}"],
            cwd=ROOT, env={**os.environ, "ADMIN_TOKEN": TOKEN, "TF_DETERMINISTIC_OPS": "1"}, capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT_S,
        )  # fmt: skip
        assert finetuned.returncode == 0, finetuned.stdout + finetuned.stderr
        assert f"cnn version {base + 1}" in finetuned.stdout and f"fine-tuned from v{base}" in finetuned.stdout
        assert "judged 80 user digits, each by a model fine-tuned without it (3 folds)" in finetuned.stdout
        # The reload put it in service: the server says so, and /predict answers with it.
        served = requests.get(f"{server.url}/models/cnn", timeout=10).json()
        assert served["served_version"] == base + 1
        digit = requests.post(
            f"{server.url}/predict?model=cnn", data=writer_png(3, 99), headers={"Content-Type": "image/png"},
            timeout=10,
        )  # fmt: skip
        assert digit.status_code == 200 and digit.json()["version"] == base + 1, digit.text
    card = json.loads((models / "cnn" / str(base + 1) / "model.json").read_text())
    assert card["training"]["finetuned_from"] == base
    finetune = card["metrics"]["finetune"]
    assert finetune["gate"]["judged_digits"] == 80 and finetune["gate"]["p_value"] <= 0.05
    assert finetune["after"]["mnist_test"] >= finetune["before"]["mnist_test"] - finetune["max_mnist_drop"]
    assert len(finetune["renderings"]) == 17
    traced = card["data"]["user"]["corrections"]
    assert traced["count"] == 80 and traced["versions_corrected"] == {f"cnn v{base}": 80}
    assert traced["stores"] == {"pod-a": {"file": "feedback-pod-a.sqlite", "ids": list(range(1, 81))}}
