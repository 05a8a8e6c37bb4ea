"""A line of ink as the line reader takes it (`linereader`, training/learn/linereader.py): LINE_HEIGHT pixels high.

Pure functions of arrays. The line reader reads a line without cutting it into characters, so it sees what
segmentation decides by geometry (a comma touching a digit, digits that overlap) as one picture; what it is given
is the ink of the line's box, cropped to that ink with a margin, scaled to LINE_HEIGHT with its proportions kept,
and brought to full strength, the same steps training/datasets/linesynth.py ends its synthetic lines with.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.reading.imageops import Box

# What the line reader writes: the characters /read writes, "?" for any other mark. Index 0 of its output is
# CTC's blank; index i + 1 is ALPHABET[i].
ALPHABET = "0123456789.,-/:?"
LINE_HEIGHT = 32
MAX_LINE_WIDTH = 512  # 16 widths of its height: 24 characters of a typed line (the most /read reads)
INK_LEVEL = 0.25  # of the crop's strongest ink: what counts as ink for the crop's extent
FULL = 0.98  # the quantile of the ink pixels brought to 1


def to_line(ink: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """`ink` (bright on dark, any scale) cropped to its ink with `margin` of its height around it, LINE_HEIGHT high,
    float32 in [0, 1]; an empty crop is all zeros, LINE_HEIGHT square."""
    ink = np.asarray(ink, np.float32)
    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return np.zeros((LINE_HEIGHT, LINE_HEIGHT), np.float32)
    rows = np.nonzero(ink.max(axis=1) >= INK_LEVEL * top)[0]
    cols = np.nonzero(ink.max(axis=0) >= INK_LEVEL * top)[0]
    height = int(rows[-1] - rows[0] + 1)
    pad = max(1, round(margin * height))
    crop = np.zeros((height + 2 * pad, int(cols[-1] - cols[0] + 1) + 2 * pad), np.float32)
    crop[pad : pad + height, pad : crop.shape[1] - pad] = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    width = int(np.clip(round(crop.shape[1] * LINE_HEIGHT / crop.shape[0]), 4, MAX_LINE_WIDTH))
    shrinking = crop.shape[0] > LINE_HEIGHT
    scaled = np.asarray(
        Image.fromarray(crop, "F").resize(
            (width, LINE_HEIGHT), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
        )
    )
    return full_strength(scaled)


def full_strength(scaled: np.ndarray) -> np.ndarray:
    """Ink brought to full strength: its FULL quantile (of the pixels at least INK_LEVEL of its strongest) to 1,
    float32 clipped to [0, 1]; no ink stays all zeros."""
    inked = scaled[scaled >= INK_LEVEL * float(scaled.max())] if scaled.max() > 0 else scaled
    full = float(np.quantile(inked, FULL)) if inked.size else 1.0
    return np.clip(scaled / max(full, 1e-6), 0.0, 1.0).astype(np.float32)


def line_image(ink: np.ndarray, box: Box) -> np.ndarray:
    """The line reader's input for the line whose characters span `box` of `ink` (the image's ink map)."""
    pad_y = max(1, box.height // 6)
    pad_x = max(1, box.height // 3)
    top, left = max(0, box.top - pad_y), max(0, box.left - pad_x)
    bottom = min(ink.shape[0], box.top + box.height + pad_y)
    right = min(ink.shape[1], box.left + box.width + pad_x)
    return to_line(ink[top:bottom, left:right])


def batch_lines(lines: list[np.ndarray]) -> np.ndarray:
    """Line images padded on the right to one width (a multiple of 4): N x LINE_HEIGHT x width x 1."""
    width = max(line.shape[1] for line in lines)
    width += -width % 4
    out = np.zeros((len(lines), LINE_HEIGHT, width, 1), np.float32)
    for i, line in enumerate(lines):
        out[i, :, : line.shape[1], 0] = line
    return out


def ctc_greedy(probabilities: np.ndarray) -> tuple[str, float, float]:
    """The best path of one line's CTC output (time x (1 + len(ALPHABET))): its text, the product of each
    character's peak probability (how sure), and the smallest margin of a step's best over its second best."""
    best = probabilities.argmax(axis=1)
    text = []
    confidence = 1.0
    previous = 0
    for step, symbol in enumerate(best.tolist()):
        if symbol != 0 and symbol != previous:
            text.append(ALPHABET[symbol - 1])
            confidence *= float(probabilities[step, symbol])
        previous = symbol
    ordered = np.sort(probabilities, axis=1)
    margin = float((ordered[:, -1] - ordered[:, -2]).min()) if len(ordered) else 0.0
    return "".join(text), confidence, margin
