"""Shared fixtures: the committed models, the committed MNIST sample, the real MNIST files when present."""

from __future__ import annotations

import os

# Before any test module imports onnxruntime; every subprocess the tests start inherits it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from pathlib import Path

import numpy as np
import pytest

from training.publish import existing_versions

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
SAMPLE = ROOT / "tests" / "data" / "mnist_test_1000.npz"


def committed_versions(name: str) -> list[int]:
    """The versions of `name` in the committed model repository, oldest first."""
    return existing_versions(MODELS, name)


# What the service serves by default: each model's newest committed version.
NEWEST = {name: committed_versions(name)[-1] for name in ("mlp", "cnn", "linear", "isdigit")}


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS


@pytest.fixture(scope="session")
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The first 1,000 MNIST test images (uint8, 28x28) and labels."""
    with np.load(SAMPLE) as data:
        return data["images"], data["labels"]


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The full MNIST IDX files; tests that need them are skipped where the directory is absent."""
    candidates = [os.environ.get("MNIST_DIR"), ROOT.parent / "shared" / "data" / "mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    pytest.skip("the MNIST IDX files are not present (set MNIST_DIR)")
