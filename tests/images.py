"""Encode test images as the bytes a client would send."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png(array: np.ndarray) -> bytes:
    """A uint8 grayscale array as PNG bytes."""
    return encode(Image.fromarray(array))


def dot_grid(side: int, pitch: int, mark: int) -> bytes:
    """A side x side PNG of mark x mark black squares every `pitch` pixels: about (side // pitch)**2 marks in a
    kilobyte or so (issue 36: dot_grid(400, 4, 2), 9,801 marks in 1,129 bytes, held /read for 26 s)."""
    rows = np.arange(side)
    on = ((rows - 2) % pitch < mark) & (rows >= 2) & (rows < side - 2)
    return png(np.where(on[:, None] & on[None, :], 0, 255).astype(np.uint8))


def pixel_batch(images: np.ndarray, layout: str = "mlp") -> np.ndarray:
    """MNIST's uint8 images as the classifiers take them: float32 in [0, 1], (N, 784) for the MLP or
    (N, 28, 28, 1) for the CNN."""
    pixels = (images / 255.0).astype(np.float32)
    return pixels.reshape(len(images), 784) if layout == "mlp" else pixels.reshape(len(images), 28, 28, 1)


def tight(digit: np.ndarray, threshold: float = 0) -> np.ndarray:
    """A digit cropped to its pixels above `threshold`, with no margin, as float32."""
    rows, cols = np.flatnonzero((digit > threshold).any(axis=1)), np.flatnonzero((digit > threshold).any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)


def number_ink(glyphs: dict[int, np.ndarray], text: str, gap: float = 0.3, seed: int = 0) -> np.ndarray:
    """The digits of `text` (from `glyphs`: ink 255 on 0) side by side, `gap` of their height apart, each a little
    off the line, with a 16 px margin; ink 255 on 0. (training/datasets/numberset.py's compose, for the serving-only
    tests.)"""
    rng = np.random.default_rng(seed)
    chosen = [glyphs[int(c)] for c in text]
    height, margin = max(g.shape[0] for g in chosen), 16
    gaps = [round(rng.uniform(gap, gap) * height) for _ in chosen[1:]]
    field = np.zeros((height + 2 * margin + height // 4, sum(g.shape[1] for g in chosen) + sum(gaps) + 2 * margin))
    x = margin
    for i, glyph in enumerate(chosen):
        y = margin + int(rng.integers(0, height // 8 + 1)) + (height - glyph.shape[0]) // 2
        region = field[y : y + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        x += glyph.shape[1] + (gaps[i] if i < len(gaps) else 0)
    return field.astype(np.float32)


def on_white(ink: np.ndarray) -> Image.Image:
    """Ink 255 on 0 as dark ink on white."""
    return Image.fromarray(255 - np.clip(ink, 0, 255).astype(np.uint8))


def drawn(strokes: list[list[tuple[float, float]]], size: tuple[int, int] = (280, 280), width: int = 16) -> bytes:
    """Pen strokes in black on white, as PNG bytes."""
    from PIL import ImageDraw

    image = Image.new("L", size, 255)
    for stroke in strokes:
        ImageDraw.Draw(image).line(stroke, fill=0, width=width, joint="curve")
    return encode(image)


# A capital A as a person draws it on a 280x280 canvas: no one reads it as a digit.
A_LETTER = [[(60, 240), (140, 40), (220, 240)], [(95, 160), (185, 160)]]
