"""Generic image operations on numpy arrays, each the counterpart of a scipy.ndimage function (which the serving
image does without: scipy would add 114 MB to a serving image 197 MB above its base, for a few functions), and
tested against it in the development environment (tests/service/reading/test_imageops.py). No domain rules in here.

- `Box`: a rectangle of pixels, the one box type of the reading stages;
- block reduction: `reduce_blocks`, `block_means`, and `stretch` back;
- running extremes: `running` along an axis (van Herk / Gil-Werman), `window_extreme`, `opening`;
- binary morphology: `dilate` (the 4-neighbourhood), `reconstruct` (a mask's pieces that hold a seed);
- connected pieces: `runs`, `label_runs` (run-length union-find, 8- or 4-connected), `piece_boxes`, `label_image`;
- `extent` of a mask and `center_of_mass`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Box:
    """Rows top..bottom and columns left..right of an image, the ends exclusive, in that image's pixels."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def middle(self) -> float:
        """The row halfway down."""
        return (self.top + self.bottom) / 2

    @property
    def centre(self) -> float:
        """The column halfway across."""
        return (self.left + self.right) / 2

    def xywh(self) -> tuple[int, int, int, int]:
        """(left, top, width, height), as the API answers boxes."""
        return self.left, self.top, self.width, self.height

    def union(self, other: Box) -> Box:
        return Box(
            min(self.top, other.top),
            max(self.bottom, other.bottom),
            min(self.left, other.left),
            max(self.right, other.right),
        )

    def shifted(self, rows: int, cols: int) -> Box:
        return Box(self.top + rows, self.bottom + rows, self.left + cols, self.right + cols)

    def of(self, image: np.ndarray) -> np.ndarray:
        """The part of `image` inside this box."""
        return image[self.top : self.bottom, self.left : self.right]


def share(mask: np.ndarray | np.bool_) -> float:
    """The share of a mask's pixels that are True: np.mean of it, to the bit, without converting it to floats."""
    return np.count_nonzero(mask) / mask.size if mask.size else float("nan")


def extent(mask: np.ndarray) -> Box | None:
    """The box of a mask's True pixels (scipy.ndimage.find_objects of one label), None when there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return Box(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


# -- block reduction ------------------------------------------------------------------------------------------------
def reduce_blocks(
    values: np.ndarray, size: int, combine: np.ufunc, mode: Literal["constant", "edge"] = "constant"
) -> np.ndarray:
    """`combine` (np.add, np.logical_or...) over size x size blocks; one axis at a time, which is fast.

    The last row and column of blocks are padded with zeros (`mode` "constant") or the edge ("edge").
    """
    if size == 1:
        return values
    height, width = values.shape
    padded = np.pad(values, ((0, -height % size), (0, -width % size)), mode=mode)
    rows = combine.reduce(padded.reshape(-1, size, padded.shape[1]), axis=1)
    return combine.reduce(rows.reshape(rows.shape[0], -1, size), axis=2)


def block_means(values: np.ndarray, size: int) -> np.ndarray:
    """The mean of every size x size block (the last row and column of blocks repeat the edge)."""
    return reduce_blocks(values.astype(np.float32, copy=False), size, np.add, "edge") / np.float32(size * size)


def stretch(small: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """Blocks of `size` back to a full image of `shape`, interpolated between the blocks' centres."""
    rows, cols = small.shape
    image = Image.fromarray(small.astype(np.float32), mode="F").resize(
        (cols * size, rows * size), Image.Resampling.BILINEAR
    )
    return np.asarray(image, dtype=np.float32)[: shape[0], : shape[1]]


# -- running extremes -----------------------------------------------------------------------------------------------
def running(values: np.ndarray, size: int, axis: int, accumulate: np.ufunc) -> np.ndarray:
    """The minimum or maximum (`accumulate`: np.minimum or np.maximum) over a window of `size` along `axis`.

    Centred, with the edges repeated (scipy.ndimage.minimum_filter1d / maximum_filter1d, mode "nearest").
    Van Herk / Gil-Werman: prefix and suffix extremes within blocks of `size` give every window's extreme
    from two values, so the cost does not grow with the window.
    """
    values = np.moveaxis(values, axis, -1)
    length = values.shape[-1]
    before, after = size // 2, size - 1 - size // 2
    extra = -(length + size - 1) % size
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(before, after + extra)], mode="edge")
    blocks = padded.reshape(*padded.shape[:-1], -1, size)
    prefix = accumulate.accumulate(blocks, axis=-1).reshape(padded.shape)
    suffix = accumulate.accumulate(blocks[..., ::-1], axis=-1)[..., ::-1].reshape(padded.shape)
    result = accumulate(suffix[..., :length], prefix[..., size - 1 : size - 1 + length])
    return np.moveaxis(result, -1, axis)


def window_extreme(values: np.ndarray, size: int, accumulate: np.ufunc) -> np.ndarray:
    """The minimum or maximum over a size x size window around every pixel (`running` along both axes)."""
    return running(running(values, size, 0, accumulate), size, 1, accumulate)


def opening(small: np.ndarray, size: int) -> np.ndarray:
    """What is left when everything narrower than `size` is shaved off: strokes go; steps and ramps stay.

    A minimum then a maximum filter over the same size x size window: scipy.ndimage.grey_opening for an odd size
    (for an even one scipy reflects the window for the second step, a pixel's shift).
    """
    return window_extreme(window_extreme(small, size, np.minimum), size, np.maximum)


# -- binary morphology ----------------------------------------------------------------------------------------------
def dilate(mask: np.ndarray) -> np.ndarray:
    """`mask` grown by one pixel up, down, left and right (scipy.ndimage.binary_dilation, the cross)."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def reconstruct(seeds: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The parts of `mask` connected (4-neighbourhood) to `seeds` (scipy.ndimage.binary_propagation).

    The mask's pieces are labelled once and those holding a seed kept: linear in the mask's runs, where growing
    the seeds a pixel at a time would take a round for every pixel of a long winding stroke.
    """
    rows, starts, ends = runs(mask)
    if len(rows) == 0:
        return np.zeros_like(mask, dtype=bool)
    labels = label_image(mask.shape, rows, starts, ends, label_runs(rows, starts, ends, diagonal=False))
    seeded = np.unique(labels[seeds & mask])
    return np.isin(labels, seeded[seeded >= 0])


# -- connected pieces -----------------------------------------------------------------------------------------------
def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's stretches of True: their row, first column and one past their last column (row-major order)."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def label_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, diagonal: bool = True) -> np.ndarray:
    """A piece number per run: runs on neighbouring rows that touch, corners included unless not `diagonal`, share a
    number (scipy.ndimage.label with a 3x3 structure, or the cross without it; numbered by each piece's first run).

    Union-find over runs rather than pixels, so a digit costs a few hundred steps whatever its resolution.
    """
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    start, end = starts.tolist(), ends.tolist()
    reach = 0 if diagonal else 1  # ends are exclusive: with corners, a run ending where the next starts touches it
    bounds = np.searchsorted(rows, np.arange(int(rows[-1]) + 2)).tolist() if len(rows) else [0]
    for row in range(1, len(bounds) - 1):
        i, i_stop = bounds[row - 1], bounds[row]  # the runs of the row above
        j, j_stop = bounds[row], bounds[row + 1]
        while i < i_stop and j < j_stop:
            if start[i] + reach <= end[j] and start[j] + reach <= end[i]:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if end[i] < end[j]:
                i += 1
            else:
                j += 1
    return np.array([root(i) for i in range(len(parent))], dtype=np.int64)


@dataclass
class Pieces:
    """Every labelled piece's box (rows top..bottom, columns left..right, ends exclusive) and area in pixels, as
    arrays indexed by label; a label no run has keeps an empty box (top > bottom) and area 0."""

    top: np.ndarray
    bottom: np.ndarray
    left: np.ndarray
    right: np.ndarray
    area: np.ndarray

    @property
    def height(self) -> np.ndarray:
        return self.bottom - self.top

    @property
    def width(self) -> np.ndarray:
        return self.right - self.left

    def box(self, label: int) -> Box:
        return Box(int(self.top[label]), int(self.bottom[label]), int(self.left[label]), int(self.right[label]))

    def subset(self, labels: np.ndarray) -> Pieces:
        return Pieces(self.top[labels], self.bottom[labels], self.left[labels], self.right[labels], self.area[labels])


def piece_boxes(
    rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, shape: tuple[int, ...]
) -> Pieces:
    """Each piece's box and area from its runs (scipy.ndimage.find_objects and sum of the labels)."""
    count = int(labels.max()) + 1
    pieces = Pieces(
        np.full(count, shape[0]),
        np.zeros(count, int),
        np.full(count, shape[1]),
        np.zeros(count, int),
        np.bincount(labels, ends - starts, count),
    )
    np.minimum.at(pieces.top, labels, rows)
    np.maximum.at(pieces.bottom, labels, rows + 1)
    np.minimum.at(pieces.left, labels, starts)
    np.maximum.at(pieces.right, labels, ends)
    return pieces


def label_image(shape: tuple[int, int], rows, starts, ends, labels) -> np.ndarray:
    """Each pixel's piece number (-1: no ink), from the runs and their labels."""
    image = np.full(shape[0] * shape[1], -1, dtype=np.int64)
    lengths = ends - starts
    offsets = np.repeat(rows * shape[1] + starts - np.cumsum(lengths) + lengths, lengths)
    image[offsets + np.arange(int(lengths.sum()))] = np.repeat(labels, lengths)
    return image.reshape(shape)


def center_of_mass(values: np.ndarray) -> tuple[float, float]:
    """The weighted mean row and column (scipy.ndimage.center_of_mass); the middle for an empty image."""
    height, width = values.shape
    total = float(values.sum())
    if not total:
        return (height - 1) / 2, (width - 1) / 2
    rows, cols = _indices(values.shape)
    return float((rows * values).sum() / total), float((cols * values).sum() / total)


@lru_cache(maxsize=64)
def _indices(shape: tuple[int, ...]) -> np.ndarray:
    """np.indices(shape), made once per shape and read-only (a digit fitted to its 20 px box has one of 39)."""
    grid = np.indices(shape)
    grid.flags.writeable = False
    return grid
