"""Stage 3, the background: its level under every pixel of an image whose ink is brighter than its ground.

A clean image (a render, a canvas, a cleanly scanned or cropped digit) has one exact level, read off its
border: `clean_level`. A photo has grain, uneven light, shadows and a sheet's edges: there the background
is the image with every stroke shaved off (`imageops.opening`), taken on block means so that the grain does
not pull it down. The median over blocks is Pillow's `MedianFilter`; the opening is imageops' running extremes,
which cost the same whatever the window, where Pillow's rank filters grow with the window's area.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from service.reading.gray import border
from service.reading.imageops import opening, share
from service.reading.tuning import CLEAN_BORDER, CLEAN_IMAGE, OPENING


def clean_level(gray: np.ndarray) -> float | None:
    """The one background level of a clean image, or None for a photo (grain, light, a sheet on a desk).

    Clean: most of the border is exactly one level (a digit cropped tight touches the rest of it), and so is
    a good part of the whole image (a sheet photographed on a flat fill has an even border, grain inside).
    """
    edge = np.round(border(gray))
    if edge.min() >= 0 and edge.max() <= 255:  # the usual range: a count per level (np.unique sorts)
        counts = np.bincount(edge.astype(np.intp), minlength=1)
        level = float(np.argmax(counts))  # the lowest of the most common levels, as with np.unique
    else:
        values, counts = np.unique(edge, return_counts=True)
        level = float(values[np.argmax(counts)])
    if counts.max() >= CLEAN_BORDER * edge.size and share(np.round(gray) == level) >= CLEAN_IMAGE:
        return level
    return None


def local_background(gray: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The level of smoothly varying light, on a grid of `shape` over the whole image.

    Uneven light on paper, a gradient or a coloured surface: the image is cut into blocks of about 1/16 of its
    size; each block's lower quartile is its background (ink covers less than three quarters of it); the
    median of the 5x5 blocks around it follows smooth light and ignores blocks inside a stroke up to two blocks
    wide. Only for a digit that is small in its image: its strokes are then far narrower than that.
    """
    height, width = gray.shape
    block = max(4, min(height, width) // 16)
    padded = np.pad(gray, ((0, -height % block), (0, -width % block)), mode="edge")
    rows, cols = padded.shape[0] // block, padded.shape[1] // block
    blocks = padded.reshape(rows, block, cols, block).transpose(0, 2, 1, 3).reshape(rows, cols, block * block)
    quartile = Image.fromarray(np.percentile(blocks, 25, axis=2).astype(np.float32), mode="F")
    level = np.asarray(quartile.filter(ImageFilter.MedianFilter(5)), dtype=np.float32)  # the edges repeated
    if not level.any():
        return np.zeros(shape, dtype=np.float32)
    around = np.pad(level, 1, mode="edge")
    level = np.mean([around[r : r + rows, c : c + cols] for r in range(3) for c in range(3)], axis=0)
    # The padded grid covers a little more than the image: stretch it to the part over the image.
    covered = Image.fromarray(level.astype(np.float32), mode="F").resize(
        (shape[1], shape[0]), Image.Resampling.BILINEAR, box=(0, 0, width / block, height / block)
    )
    return np.asarray(covered, dtype=np.float32)


def photo_background(gray: np.ndarray, small: np.ndarray, reach: int | None, block: int) -> np.ndarray:
    """The background of a photo on the grid of `small` (block means of `block` px), for ink up to `reach` px wide.

    Without `reach` (a digit small in its image): the higher of the smooth light and an opening a fifth of the
    image wide, which also keeps steps such as a sheet's edge. With it (a digit that fills its image, whose
    strokes may be as wide as that): an opening at least `reach` wide, alone, which no stroke survives.
    """
    narrow = max(3, min(small.shape) // OPENING)
    if reach is None:
        return np.maximum(local_background(gray, small.shape), opening(small, narrow))
    return opening(small, max(narrow, -(-reach // block)))


def grain(small: np.ndarray) -> float:
    """The standard deviation of the noise in block means, from differences between neighbouring blocks.

    Blocks do not overlap, so their noise is independent: the median absolute difference of a normal noise
    is 0.954 sigma. Light that varies smoothly and the few blocks of ink barely move a median of differences.
    """
    across = np.abs(np.diff(small, axis=1)).ravel()
    down = np.abs(np.diff(small, axis=0)).ravel()
    return float(np.median(np.concatenate([across, down]))) / 0.954
