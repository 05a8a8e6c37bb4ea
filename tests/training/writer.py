"""A writer the models do not know (training/datasets/newwriter.py), as PNG bytes: the fine-tune tests' user digits."""

from __future__ import annotations

import io

import numpy as np

from training.datasets import newwriter


def writer_png(label: int, index: int, seed: int = 7) -> bytes:
    """Digit `label`, the writer's `index`-th, as a PNG; a pure function of (seed, label, index)."""
    buffer = io.BytesIO()
    newwriter.render(label, np.random.default_rng([seed, label, index])).save(buffer, "PNG")
    return buffer.getvalue()
