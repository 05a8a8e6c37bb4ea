"""Stage 5, fit to MNIST's 28x28: the longer side to 20 px, the strokes at full strength, centred by mass."""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.reading.imageops import center_of_mass
from service.reading.tuning import BOX, FULL, INK_THRESHOLD, SIZE, STROKE_QUANTILE


def fit_box(digit: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio (a digit already that size is kept)."""
    height, width = digit.shape
    if max(height, width) == box:
        return digit
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(digit.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 255.0)


def full_strength(digit: np.ndarray) -> np.ndarray:
    """Brighten faint ink so the strokes' cores are white, as in MNIST; ink already there is left as it is.

    Faint pencil, grey on grey, or a thin line shrunk to the 20 px box all reach the model at a fraction of
    the brightness it was trained on. The strokes' level is read from the inked pixels' upper quantile
    (anti-aliased edges are the lower part), so one bright speck does not set it.
    """
    inked = digit[digit > INK_THRESHOLD * float(digit.max(initial=0.0))]
    if inked.size == 0:
        return digit
    rank = (inked.size - 1) * STROKE_QUANTILE // 100
    level = float(np.partition(inked, rank)[rank])
    if level >= FULL or level <= 0.0:
        return digit
    return np.minimum(digit * (255.0 / level), 255.0)


def center_by_mass(digit: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Paste into a size x size field so the centre of mass lands on the centre pixel."""
    height, width = digit.shape
    com_row, com_col = center_of_mass(digit)
    # MNIST puts the centre of mass at (14, 14) in pixel-index coordinates.
    top = round(size / 2 - com_row)
    left = round(size / 2 - com_col)
    top = min(max(top, 0), size - height)
    left = min(max(left, 0), size - width)
    field = np.zeros((size, size), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def as_mnist(ink: np.ndarray) -> np.ndarray:
    """A digit's ink (bright on zero, [0, 255], cropped to it) fitted as MNIST is: 28x28 float32 in [0, 1]. The one
    formula for a digit from /predict and each character /read cuts."""
    return center_by_mass(full_strength(fit_box(ink))) / 255.0
