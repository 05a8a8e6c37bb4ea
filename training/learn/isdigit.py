"""The `isdigit` model: is a preprocessed 28x28 image a digit at all? `python -m training isdigit`.

The classifiers were trained on digits only, so they read an `A` as a 4 at 0.99999: their softmax cannot
abstain. This small CNN is trained for the one question they cannot answer, on what the service's own
preprocessing hands them:
- digits: MNIST training digits as stored, the same rendered as users send them (training/datasets/handwriting.py),
  and typed, framed, drawn and photographed digits (training/datasets/evalset.py's kinds), all from seeds of its own;
- not digits: letters, symbols, pen drawings, shapes and textures (training/datasets/nondigits.py), from seeds of its
own;
- and, in a family of fonts of their own (training/datasets/typeset.py), typed digits against typed letters and the
  signs that come beside numbers, and photo clutter (blank paper, foliage, grass, blobs, ruling, creases) as not digits.
Its threshold is calibrated on held-out made data of both kinds (other MNIST training digits, other seeds):
the lowest score that still accepts ACCEPT of the calibration digits. MNIST's test digits, eval/real-world
and eval/non-digits are never seen; `make evaluate` reports the operating point on them.
"""

from __future__ import annotations

import time
from functools import cache, partial
from pathlib import Path

import numpy as np

from training.datasets import evalset, handwriting, nondigits, typeset
from training.datasets.items import Item, prepare
from training.datasets.mnist import Mnist
from training.learn.models import build_digit_check

LABELS = ["not a digit", "digit"]
# Seeds of the made images: training, calibration (apart from the evaluation sets' 0 and the development set's 1).
TRAIN_SEED, CALIBRATION_SEED = 100, 200
# The share of calibration digits the threshold accepts: the target is 0.98 of real digits, with a margin of 0.01.
ACCEPT = 0.99
# Epochs: v2's data (typed signs, clutter) needs more than v1's 6 to separate.
EPOCHS = 10
# Publishing needs the calibration non-digits rejected at least this often at that threshold.
MIN_REJECTION = 0.9


@cache
def _fonts() -> tuple[Path, ...]:
    try:
        return tuple(evalset.fonts())
    except SystemExit:
        return ()  # no fonts: typed kinds are left out (training logs how many images it made)


def synthetic_digit(subset: str, digit: int, seed: int, index: int) -> bytes:
    """A typed, framed, drawn, photographed or faint digit (evalset.py's kinds) from (seed, index)."""
    return evalset.make(subset, digit, np.random.default_rng([seed, index]), list(_fonts()))[0]


def non_digit(kind: str, seed: int, index: int) -> bytes:
    """An image of `kind` that is not a digit (nondigits.py) from (seed, index)."""
    return nondigits.make(kind, np.random.default_rng([seed, index]), list(_fonts()))[0]


def _items(mnist: Mnist, seed: int, start: int, rendered: int, synthetic: int, negatives: int) -> list[Item]:
    typed = bool(_fonts())
    items = [
        Item(subset, 1, partial(handwriting.render, subset, mnist.x_train[i], i, seed))
        for n, subset in enumerate(handwriting.SUBSETS)
        for i in range(start + n * rendered, start + (n + 1) * rendered)
    ]
    subsets = [s for s in evalset.SUBSETS if typed or s == "strokes"]
    items += [
        Item(subset, 1, partial(synthetic_digit, subset, i % 10, seed + k, i))
        for k, subset in enumerate(subsets)
        for i in range(synthetic)
    ]
    kinds = [k for k in nondigits.TRAIN_KINDS if typed or k not in ("letters", "symbols")]
    items += [
        Item(kind, 0, partial(non_digit, kind, seed + k, i)) for k, kind in enumerate(kinds) for i in range(negatives)
    ]
    # In a family of fonts of their own (training/datasets/typeset.py): typed digits, and the letters and signs that
    # come beside numbers ($ % h e ...); and what a photo holds besides writing (blank paper, foliage, blobs, ruling).
    if typeset.available():
        signs = typeset.DIGITS + typeset.NOT_DIGITS
        items += [
            Item("typeset digits", 1, partial(typeset.typed, str(i % 10), seed + 50, i)) for i in range(5 * synthetic)
        ]
        items += [
            Item(
                "typeset signs",
                0,
                partial(typeset.typed, typeset.NOT_DIGITS[i % len(typeset.NOT_DIGITS)], seed + 51, i, signs),
            )
            for i in range(2 * negatives)
        ]
    items += [
        Item(f"clutter: {kind}", 0, partial(typeset.clutter, kind, seed + 52, i))
        for kind in typeset.CLUTTER
        for i in range(negatives // 4)
    ]
    return items


def examples(mnist: Mnist, seed: int, start: int, raw: int, rendered: int, synthetic: int, negatives: int):
    """(images N x 28 x 28 in [0, 1], labels 1 digit / 0 not, kinds) through the service's preprocessing."""
    items = _items(mnist, seed, start, rendered, synthetic, negatives)
    prepared = prepare(items)
    kept = [(d, item) for d, item in zip(prepared, items, strict=True) if d is not None]  # blank images refused
    x = np.concatenate([mnist.x_train[start - raw : start] / np.float32(255.0), np.stack([d for d, _ in kept])])
    y = np.concatenate([np.ones(raw, dtype=np.int64), np.array([item.label for _, item in kept])])
    kinds = ["mnist"] * raw + [item.subset for _, item in kept]
    return x.astype(np.float32), y, kinds


def calibrate(scores: np.ndarray, labels: np.ndarray, accept: float = ACCEPT) -> tuple[float, float, float]:
    """(threshold, share of digits accepted, share of non-digits rejected): the highest threshold accepting `accept`."""
    digits = np.sort(scores[labels == 1])
    threshold = float(digits[int(np.floor((1 - accept) * len(digits)))])
    return threshold, float(np.mean(digits >= threshold)), float(np.mean(scores[labels == 0] < threshold))


def train(mnist: Mnist, epochs: int = EPOCHS, batch_size: int = 128, seed: int = 0, scale: float = 1.0) -> dict:
    """Train, calibrate and measure; returns the model, its threshold and the figures for its card."""
    import keras

    def n(count: int) -> int:
        return max(10, round(count * scale))

    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    # MNIST training digits 0-29,999 as stored and 30,000-40,199 rendered train; 49,000-51,699 calibrate.
    x, y, _ = examples(mnist, TRAIN_SEED + seed, n(30_000), n(30_000), n(600), n(600), n(4000))
    cal_x, cal_y, cal_kinds = examples(mnist, CALIBRATION_SEED + seed, n(50_000), n(1000), n(100), n(100), n(200))
    made = time.perf_counter() - started
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order][..., np.newaxis], y[order]
    weights = {0: len(y) / (2 * max(1, int((y == 0).sum()))), 1: len(y) / (2 * max(1, int((y == 1).sum())))}
    model = build_digit_check()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = model.fit(x, y, epochs=epochs, batch_size=batch_size, class_weight=weights, verbose=2)
    scores = model.predict(cal_x[..., np.newaxis], batch_size=512, verbose=0)[:, 1]
    threshold, accepted, rejected = calibrate(scores, cal_y)
    per_kind = {
        kind: round(float(np.mean((scores[mask] >= threshold) == (cal_y[mask] == 1))), 4)
        for kind in sorted(set(cal_kinds))
        for mask in [np.array([k == kind for k in cal_kinds])]
    }
    return {
        "model": model,
        "threshold": threshold,
        "history": {k: [float(v) for v in vs] for k, vs in fit.history.items()},
        "calibration": {
            "digits": int((cal_y == 1).sum()),
            "non_digits": int((cal_y == 0).sum()),
            "accepted": round(accepted, 4),
            "rejected": round(rejected, 4),
            "correct_per_kind": per_kind,
            "seed": CALIBRATION_SEED + seed,
        },
        "settings": {
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "train_samples": len(y),
            "train_digits": int((y == 1).sum()),
            "train_non_digits": int((y == 0).sum()),
            "optimizer": "adam",
            "learning_rate": 1e-3,
            "class_weight": {str(k): round(v, 4) for k, v in weights.items()},
            "accept": ACCEPT,
            "seconds_making_data": round(made, 1),
        },
        "sample": cal_x[:1000, ..., np.newaxis],
        "sample_probabilities": model.predict(cal_x[:1000, ..., np.newaxis], batch_size=512, verbose=0),
        "wall_time_s": time.perf_counter() - started,
    }
