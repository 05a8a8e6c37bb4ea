"""A labelled image made on demand, and the service's own preprocessing of many of them on all cores.

Every yardstick of the classifiers (training/evaluation/evaluate.py), the fine-tune's gate (training/learn/gate.py)
and the digit check's training data (training/learn/isdigit.py) read images through these: what they measure is
what `/predict` would see.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from service.errors import ServiceError
from service.reading import mnist_from_image
from training.datasets import evalset, handwriting

# The largest image the preprocessing opens here: far above any set's, as the service's own limit is.
MAX_PIXELS = 25_000_000


@dataclass(frozen=True)
class Item:
    """One labelled image, made on demand: committed bytes, or a rendering of an MNIST digit."""

    subset: str
    label: int
    make: Callable[[], bytes]


def committed_items(folder: Path, per_subset: int | None) -> list[Item]:
    return [
        Item(subset, label, partial(bytes, data)) for subset, label, data in evalset.load(folder, per_subset=per_subset)
    ]


def handwriting_items(images: np.ndarray, labels: np.ndarray, per_subset: int | None, seed: int) -> list[Item]:
    """Every rendering of the first `per_subset` digits (all of them by default), each a subset."""
    count = len(images) if per_subset is None else min(per_subset, len(images))
    return [
        Item(subset, int(labels[i]), partial(handwriting.render, subset, images[i], i, seed))
        for subset in handwriting.SUBSETS
        for i in range(count)
    ]


def _prepare(item: Item) -> np.ndarray | None:
    try:
        return mnist_from_image(item.make(), MAX_PIXELS)
    except ServiceError:
        return None


def prepare(items: Sequence[Item]) -> list[np.ndarray | None]:
    """The preprocessed 28x28 digit of every item (None where refused), on all cores.

    Spawned workers, not forked ones: training calls this with TensorFlow loaded, whose threads make a fork
    unsafe. Items pickle (their `make` is a partial of a module-level function).
    """
    workers = os.cpu_count() or 1
    if workers == 1 or len(items) < 200:
        return [_prepare(item) for item in items]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return pool.map(_prepare, items, chunksize=64)
