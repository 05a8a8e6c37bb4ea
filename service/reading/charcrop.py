"""A character in its line as the character model takes it (`charmodel`, training/learn/charmodel.py): CHAR_SIZE square.

Pure functions of arrays. The digit classifiers see a mark fitted to 28x28 as MNIST is, which throws away what
tells a separator from a digit and a speck from a 1: how tall the mark is beside its line, and where it sits in
it. The character model sees the mark's own columns across the whole band of its line (the band's height and a
margin), so a comma is small and low, a hyphen short and halfway up, a colon two dots, and a digit fills the band.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.reading.imageops import Box
from service.reading.linecrop import full_strength

CHAR_SIZE = 32
# What the character model writes: the ten digits, the five separators /read writes, and "?" for any other mark
# (a letter, `$ % € # +`, a unit, a speck, a scribble).
CHAR_CLASSES = "0123456789.,-/:?"


def char_image(ink: np.ndarray, band: Box, box: Box) -> np.ndarray:
    """The character whose ink spans `box` of `ink` (the image's ink map), seen across `band` (its line's box):
    its columns (a little margin either side) by the band's rows (a sixth of its height above and below), centred
    in a square as high as that, scaled to CHAR_SIZE square, float32 in [0, 1] at full strength (as a line is)."""
    height = max(1, band.height)
    pad_y = max(1, height // 6)
    pad_x = max(1, height // 16)
    top, bottom = max(0, min(band.top, box.top) - pad_y), min(ink.shape[0], max(band.bottom, box.bottom) + pad_y)
    left, right = max(0, box.left - pad_x), min(ink.shape[1], box.right + pad_x)
    crop = np.asarray(ink[top:bottom, left:right], np.float32)
    if crop.size == 0:
        return np.zeros((CHAR_SIZE, CHAR_SIZE), np.float32)
    side = max(crop.shape)
    square = np.zeros((crop.shape[0], side), np.float32)
    start = (side - crop.shape[1]) // 2
    square[:, start : start + crop.shape[1]] = crop
    shrinking = square.shape[0] > CHAR_SIZE
    scaled = np.asarray(
        Image.fromarray(square, "F").resize(
            (CHAR_SIZE, CHAR_SIZE), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
        )
    )
    return full_strength(scaled)
