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


def tight(digit: np.ndarray) -> np.ndarray:
    """A digit cropped to its ink, as float32."""
    from training.handwriting import tight as crop

    return crop(digit, 0).astype(np.float32)


def number_ink(glyphs: dict[int, np.ndarray], text: str, gap: float = 0.3, seed: int = 0) -> np.ndarray:
    """The digits of `text` (from `glyphs`: ink 255 on 0) side by side, `gap` of their height apart."""
    from training.numberset import compose

    return compose([glyphs[int(c)] for c in text], np.random.default_rng(seed), (gap, gap), 16)


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
