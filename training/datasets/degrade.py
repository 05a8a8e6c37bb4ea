"""Training digits as users' images make them, through the service's own preprocessing.

MNIST's digits are clean, centred and 28x28; what the service feeds the models after cropping a photo, a
low-resolution scan or a marker's stroke is not. `degrade` renders a training digit with random, continuous
amounts of what users' images do to a digit: a tight crop (threshold and margin), enlargement, a
low-resolution round trip, a bolder or thinner pen, blur, a small rotation, JPEG. `degraded_copies` puts
such renderings through `service.reading` and returns what the models would be given.

These are not the evaluation's renderings (training/datasets/handwriting.py): those are fixed points, these a random
family around them, drawn from MNIST's training digits only and from a seed of their own.
"""

from __future__ import annotations

import io
from functools import partial

import numpy as np
from PIL import Image, ImageFilter

from training.datasets.handwriting import scaled
from training.datasets.items import Item, prepare

RESAMPLING = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def _resized(image: Image.Image, factor: float, rng: np.random.Generator) -> Image.Image:
    return scaled(image, factor, RESAMPLING[rng.integers(len(RESAMPLING))])


def degrade(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One random rendering of `digit` (uint8 28x28, light on black) as encoded image bytes."""
    image = Image.fromarray(digit)
    if rng.random() < 0.3:
        image = image.rotate(float(rng.uniform(-15, 15)), Image.Resampling.BICUBIC, expand=True)
    if rng.random() < 0.35:
        image = image.filter(ImageFilter.MaxFilter(3) if rng.random() < 0.7 else ImageFilter.MinFilter(3))
        if not np.asarray(image).any():
            image = Image.fromarray(digit)  # a thin digit eroded away
    if rng.random() < 0.6:
        pixels = np.asarray(image)
        mask = pixels > rng.uniform(0, 80)
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size:
            margin = int(rng.integers(0, 3))
            top, left = max(rows[0] - margin, 0), max(cols[0] - margin, 0)
            image = Image.fromarray(pixels[top : rows[-1] + 1 + margin, left : cols[-1] + 1 + margin])
    if rng.random() < 0.35:
        low = rng.uniform(7, 16) / max(image.size)
        if low < 1:
            image = scaled(image, low, Image.Resampling.BOX)
    image = _resized(image, rng.uniform(28, 160) / max(image.size), rng)
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.5))))
    if rng.random() < 0.85:
        image = Image.fromarray(255 - np.asarray(image))  # dark ink on white, as most images are
    buffer = io.BytesIO()
    if rng.random() < 0.3:
        image.save(buffer, "JPEG", quality=int(rng.integers(60, 96)))
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def render(digit: np.ndarray, index: int, seed: int) -> bytes:
    """`degrade` for training digit number `index`, a pure function of (seed, index)."""
    return degrade(digit, np.random.default_rng([seed, index]))


def degraded_copies(images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every image degraded once and preprocessed as the service does: uint8 (N, 28, 28) and their labels.

    The few renderings the preprocessing refuses (a digit eroded to nothing) are left out.
    """
    items = [Item("degraded", int(labels[i]), partial(render, images[i], i, seed)) for i in range(len(images))]
    digits = prepare(items)
    kept = [i for i, d in enumerate(digits) if d is not None]
    pixels = np.stack([np.round(np.asarray(digits[i]) * 255) for i in kept]).astype(np.uint8)
    return pixels.reshape(len(kept), 28, 28), labels[kept]
