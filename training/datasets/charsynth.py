"""Characters for the character model (training/learn/charmodel.py), cut from synthetic lines by /read's own layout.

A line is drawn and worn as the line reader's are (training/datasets/linesynth.py: MNIST **training** digits, pen-stroke
separators, the training fonts, foreign marks and scribbles), sent as users send images (dark on light, light on
dark, a transparent canvas, a JPEG photo of paper), and laid out by service/reading exactly as `/read` lays it out.
Where the layout finds one line of as many characters as the text has, each character is labelled by its place in
the text and cut as the service cuts it (service/reading/charcrop.py); other lines are dropped, so every mark the
model learns from is a mark the layout really makes. Single marks that are no character (typed and drawn letters,
symbols, shapes: training/datasets/nondigits.py's training kinds) are labelled "?" where the layout finds one mark.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from service.errors import InvalidInput
from service.reading import read_image
from service.reading.charcrop import CHAR_CLASSES, char_image
from service.settings import Settings
from training.datasets import nondigits
from training.datasets.linesynth import composed, label_of
from training.datasets.typeset import fonts

SINGLE_MARKS = ("letters", "drawn", "symbols", "shapes")
SINGLE_SHARE = 0.12  # of the draws: a single mark that is no character


def _encoded(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Ink (bright on dark, [0, 255]) as a user sends it."""
    mask = np.clip(ink / 255.0, 0.0, 1.0)
    style = rng.random()
    buffer = io.BytesIO()
    if style < 0.4:
        ground, dark = rng.uniform(200, 255), rng.uniform(0, 80)
        Image.fromarray((ground - (ground - dark) * mask).astype(np.uint8)).save(buffer, "PNG")
    elif style < 0.55:
        ground, bright = rng.uniform(0, 60), rng.uniform(190, 255)
        Image.fromarray((ground + (bright - ground) * mask).astype(np.uint8)).save(buffer, "PNG")
    elif style < 0.7:
        image = Image.new("RGBA", (ink.shape[1], ink.shape[0]), (0, 0, 0, 0))
        image.putalpha(Image.fromarray((255 * mask).astype(np.uint8)))
        image.save(buffer, "PNG")
    else:  # a photo of paper: uneven light, grain, JPEG
        height, width = ink.shape
        level = rng.uniform(170, 240)
        light = level + rng.uniform(-25, 25) * np.linspace(-1, 1, width)[None, :] + rng.normal(0, 3, (height, width))
        pixels = light * (1 - mask) + (level - rng.uniform(100, 170)) * mask
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).convert("RGB").save(
            buffer, "JPEG", quality=int(rng.integers(55, 92))
        )
    return buffer.getvalue()


@cache
def _max_pixels() -> int:
    return Settings().max_image_pixels


def _cut(data: bytes) -> list[tuple[np.ndarray, list[np.ndarray]]] | None:
    """The crop of each character of each line /read's layout finds in `data`, or None when it finds nothing."""
    try:
        page = read_image(data, _max_pixels())
    except InvalidInput:
        return None
    if page.ink is None:
        return None
    return [(page.ink, [char_image(page.ink, line.box, c.box) for c in line.characters]) for line in page.lines]


def examples(rng: np.random.Generator, mnist_dir: str | None, count: int) -> Iterator[tuple[np.ndarray, int]]:
    """About `count` characters (CHAR_SIZE square crops) with their class (an index into CHAR_CLASSES)."""
    marks = fonts()
    made = 0
    other = CHAR_CLASSES.index("?")
    while made < count:
        if rng.random() < SINGLE_SHARE:
            data, _ = nondigits.make(SINGLE_MARKS[int(rng.integers(len(SINGLE_MARKS)))], rng, list(marks))
            found = _cut(data)
            if found is not None and len(found) == 1 and len(found[0][1]) == 1:
                made += 1
                yield found[0][1][0], other
            continue
        worn, text, _ = composed(rng, mnist_dir)
        found = _cut(_encoded(worn, rng))
        label = label_of(text)
        if found is None or len(found) != 1 or len(found[0][1]) != len(label):
            continue
        for crop, char in zip(found[0][1], label, strict=True):
            made += 1
            yield crop, CHAR_CLASSES.index(char)


def make_set(seed: int, mnist_dir: str | None, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` crops (N x CHAR_SIZE x CHAR_SIZE float32) and their classes (N int), from `seed`."""
    pairs = list(examples(np.random.default_rng(seed), mnist_dir, count))[:count]
    return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], np.int64)


def save_set(path: Path, seed: int, mnist_dir: str | None, count: int) -> None:
    """make_set's crops as uint8 in an .npz (training/learn/charmodel.py loads it)."""
    x, y = make_set(seed, mnist_dir, count)
    np.savez_compressed(path, x=(x * 255).round().astype(np.uint8), y=y.astype(np.uint8))
