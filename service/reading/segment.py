"""Stage 4c, for reading a number: the image's marks, one character each, left to right.

The ink is found as for one digit (`ink_on_dark`, a photographed sheet's edges taken out) and its strong
pixels are cut into connected pieces at the working resolution (`runs`, `label_runs`). The pieces become
characters by rules on their boxes, measured against the marks' own height (the median of the large pieces):
- a frame (a thin box line around a form field: little ink for its box, other marks inside) is dropped, and
  so is a line longer than the marks are tall (an underline, a box's side);
- pieces that share most of their width and are close above each other are one character (a 5's flag, a
  broken stroke); a small piece beside a character within reach joins it, and specks far from one are dropped;
- a character much wider than the marks are tall is digits that touch: it is cut at its emptiest columns
  near equal shares of its width.
Each character's own pixels (not a neighbour's stroke reaching into its box) are fitted as MNIST is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.reading.fit import center_by_mass, fit_box, full_strength
from service.reading.pieces import dilate, extent, label_runs, runs, strong_pixels
from service.reading.tuning import (
    FRAME_FILL,
    INK_THRESHOLD,
    JOIN_GAP,
    LINE_LENGTH,
    MAIN_PIECE,
    MAX_MARKS,
    MAX_RUNS,
    SAME_COLUMN,
    SPECK,
    SPLIT_WIDTH,
    TOUCHING,
    TOUCHING_PAIR,
)


@dataclass(frozen=True)
class Mark:
    """One character of a reading: its box (left, top, width, height) in the analysed image, and its 28x28 digit."""

    box: tuple[int, int, int, int]
    digit: np.ndarray


@dataclass
class _Pieces:
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


def _label_image(shape: tuple[int, int], rows, starts, ends, labels) -> np.ndarray:
    """Each pixel's piece number (-1: no ink), from the runs and their labels."""
    image = np.full(shape[0] * shape[1], -1, dtype=np.int64)
    lengths = ends - starts
    offsets = np.repeat(rows * shape[1] + starts - np.cumsum(lengths) + lengths, lengths)
    image[offsets + np.arange(int(lengths.sum()))] = np.repeat(labels, lengths)
    return image.reshape(shape)


def _reference_height(pieces: _Pieces, candidates: np.ndarray) -> float:
    """The marks' height: the median height of the large pieces among `candidates`."""
    area = pieces.area[candidates]
    large = candidates[area >= MAIN_PIECE * area.max()]
    return float(np.median(pieces.height[large]))


def _lines_and_frames(pieces: _Pieces) -> np.ndarray:
    """Which pieces are box lines: frames holding other marks, lines longer than the marks are tall."""
    count = len(pieces.area)
    fill = pieces.area / np.maximum(pieces.width * pieces.height, 1)
    centre_row = (pieces.top + pieces.bottom) / 2
    centre_col = (pieces.left + pieces.right) / 2
    frames = np.zeros(count, dtype=bool)
    for i in np.flatnonzero(fill < FRAME_FILL).tolist():
        inside = (
            (centre_row > pieces.top[i])
            & (centre_row < pieces.bottom[i])
            & (centre_col > pieces.left[i])
            & (centre_col < pieces.right[i])
            & (pieces.height >= 0.25 * pieces.height[i])
        )
        inside[i] = False
        frames[i] = inside.any()
    rest = np.flatnonzero(~frames)
    if rest.size == 0:
        return frames
    reference = _reference_height(pieces, rest)
    across = (pieces.width >= LINE_LENGTH * reference) & (pieces.width >= 4 * pieces.height)
    upright = (pieces.height >= LINE_LENGTH * reference) & (pieces.height >= 8 * pieces.width)
    lines = frames | across | upright
    return lines if not lines.all() else frames


def _characters(pieces: _Pieces, kept: np.ndarray, reference: float) -> list[list[int]]:
    """The kept pieces grouped into characters, left to right."""
    order = kept[np.argsort(pieces.left[kept], kind="stable")].tolist()
    groups: list[list[int]] = []
    boxes: list[list[int]] = []  # top, bottom, left, right of each group
    large = pieces.height >= 0.4 * reference
    for i in sorted(order, key=lambda p: -int(pieces.area[p])):  # large pieces first, the small ones join them
        top, bottom, left, right = (int(v[i]) for v in (pieces.top, pieces.bottom, pieces.left, pieces.right))
        best, best_gap = None, None
        for g, (g_top, g_bottom, g_left, g_right) in enumerate(boxes):
            overlap = min(right, g_right) - max(left, g_left)
            vertical_gap = max(top - g_bottom, g_top - bottom, 0)
            if vertical_gap > 0.5 * reference:
                continue
            same_column = overlap >= SAME_COLUMN * min(right - left, g_right - g_left)
            gap = max(left - g_right, g_left - right, 0)
            joins = same_column or (not large[i] and gap <= JOIN_GAP * reference)
            if joins and (best_gap is None or gap < best_gap):
                best, best_gap = g, gap
        if best is None:
            if not large[i] and pieces.area[i] < SPECK * pieces.area[kept].max():
                continue  # a speck near nothing
            groups.append([i])
            boxes.append([top, bottom, left, right])
        else:
            groups[best].append(i)
            box = boxes[best]
            boxes[best] = [min(box[0], top), max(box[1], bottom), min(box[2], left), max(box[3], right)]
    ordered = sorted(range(len(groups)), key=lambda g: boxes[g][2] + boxes[g][3])
    return [groups[g] for g in ordered]


def _cuts(profile: np.ndarray, parts: int) -> list[int]:
    """Where to cut a run of touching digits: the emptiest column near each equal share of its width."""
    width = len(profile)
    share = width / parts
    cuts = []
    for k in range(1, parts):
        low, high = max(1, round(k * share - 0.35 * share)), min(width - 1, round(k * share + 0.35 * share))
        window = profile[low : high + 1]
        # Among the emptiest columns, the one nearest the share's edge.
        candidates = np.flatnonzero(window <= window.min() + 1e-6) + low
        cuts.append(int(candidates[np.argmin(np.abs(candidates - k * share))]))
    return cuts


def _fit(ink: np.ndarray) -> np.ndarray:
    return center_by_mass(full_strength(fit_box(ink))) / 255.0


def _measure(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, shape) -> _Pieces:
    """Each piece's box and area (in pixels) from its runs."""
    count = int(labels.max()) + 1
    pieces = _Pieces(
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


def _parts(width: int, height: int, reference: float, digit_width: float | None) -> int:
    """How many touching digits a character `width` wide is (1: it is one)."""
    tall = max(height, reference)
    if width > SPLIT_WIDTH * tall:
        return max(2, round(width / (digit_width or TOUCHING * tall)))
    if digit_width and width > TOUCHING_PAIR * tall and width > 1.6 * digit_width:
        return max(2, round(width / digit_width))
    return 1


def _own_pixels(ink: np.ndarray, owner: np.ndarray, group: list[int], box: tuple[int, int, int, int]) -> np.ndarray:
    """The character's ink in its box: its pieces and the faint edge beside them, not a neighbour's strokes."""
    top, bottom, left, right = box
    window = owner[top:bottom, left:right]
    own = np.isin(window, group)
    grown = dilate(dilate(own))  # the faint anti-aliased edge beside the strokes, as crop_to_ink keeps it
    return np.where(grown & ~((window >= 0) & ~own), ink[top:bottom, left:right], 0.0)


def find_marks(ink: np.ndarray) -> list[Mark]:
    """The characters of `ink` (bright on zero, [0, 255]) left to right, each fitted as MNIST is."""
    strong = strong_pixels(ink)
    if not strong.any():
        raise InvalidInput("the image holds no digit: no ink found")
    rows, starts, ends = runs(strong)
    if len(rows) > MAX_RUNS:  # texture or noise, not strokes: one mark, which is_digit will judge
        top, bottom, left, right = extent(strong)  # type: ignore[misc]
        return [Mark((int(left), int(top), int(right - left), int(bottom - top)), _fit(ink[top:bottom, left:right]))]
    labels = label_runs(rows, starts, ends)
    pieces = _measure(rows, starts, ends, labels, strong.shape)
    present = np.flatnonzero(pieces.area)
    lines = _lines_and_frames(_Pieces(*(v[present] for v in vars(pieces).values())))
    kept = present[~lines]
    reference = _reference_height(pieces, kept)
    groups = _characters(pieces, kept, reference)
    if len(groups) > MAX_MARKS:  # before any is fitted: text or texture, not a number
        raise InvalidInput(f"the image holds {len(groups)} marks; a reading has at most {MAX_MARKS}")
    owner = _label_image(strong.shape, rows, starts, ends, labels)
    boxes = [
        (int(pieces.top[g].min()), int(pieces.bottom[g].max()), int(pieces.left[g].min()), int(pieces.right[g].max()))
        for g in groups
    ]
    widths = np.array([right - left for _, _, left, right in boxes])
    heights = np.array([bottom - top for top, bottom, _, _ in boxes])
    # A digit's width, from the marks that are neither 1s nor wider than tall (at least two of them).
    single = widths[(widths >= 0.4 * reference) & (widths <= heights)]
    digit_width = float(np.median(single)) if len(single) >= 2 else None
    marks = []
    for group, (top, bottom, left, right) in zip(groups, boxes, strict=True):
        pixels = _own_pixels(ink, owner, group, (top, bottom, left, right))
        parts = _parts(right - left, bottom - top, reference, digit_width)
        edges = [0, *(_cuts(pixels.sum(axis=0), parts) if parts > 1 else []), right - left]
        for a, b in itertools.pairwise(edges):
            part = pixels[:, a:b]
            box, crop = extent(part > INK_THRESHOLD * 255), extent(part > 0)
            if box is None or crop is None:
                continue
            r0, r1, c0, c1 = box
            digit = _fit(part[crop[0] : crop[1], crop[2] : crop[3]])
            marks.append(Mark((left + a + int(c0), top + int(r0), int(c1 - c0), int(r1 - r0)), digit))
    if not marks:
        raise InvalidInput("the image holds no digit: no ink found")
    if len(marks) > MAX_MARKS:  # counted once touching digits are cut apart
        raise InvalidInput(f"the image holds {len(marks)} marks; a reading has at most {MAX_MARKS}")
    return marks
