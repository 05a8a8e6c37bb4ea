"""Stage 4c, for reading a number: the image's glyphs, each the ink of one character, with its own pixels.

The ink is found as for one digit (`ink_on_dark`, a photographed sheet's edges taken out) and its strong
pixels are cut into connected pieces at the working resolution (imageops' `runs`, `label_runs`). The pieces
become glyphs by rules on their boxes, measured against the marks' own height (the median of the large pieces):
- a frame (a thin box line around a form field: little ink for its box, other marks inside) is dropped, and
  so is a line longer than the marks are tall (an underline, a box's side);
- pieces that share most of their width and are close above each other are one glyph (a 5's flag, a broken
  stroke, a colon's two dots);
- a small piece beside a glyph is a glyph of its own here: whether it is a decimal point, a comma, a minus, a
  broken stroke to join or a speck to drop is decided on its line (service/reading/layout.py).
Each glyph keeps its own pixels (not a neighbour's stroke reaching into its box) for the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.reading import budget
from service.reading.imageops import Box, Pieces, dilate, extent, label_image, label_runs, piece_boxes, runs
from service.reading.pieces import strong_pixels
from service.reading.tuning import (
    BACKGROUND,
    BACKGROUND_AREA,
    BASELINE,
    BLOB_PENS,
    CHARACTER_HEIGHT,
    FRAME_FILL,
    LINE_LENGTH,
    LINE_MARK,
    MAIN_PIECE,
    MAX_MARKS,
    MAX_PIECES,
    MAX_RUNS,
    SAME_COLUMN,
    SEPARATOR_HEIGHT,
    SPECK_AREA,
    SPLIT_WIDTH,
    TOUCHING,
    TOUCHING_PAIR,
)


@dataclass(frozen=True)
class Glyph:
    """The ink of one character: its box in the analysed image, its own pixels in that box (a neighbour's strokes
    left out), the boxes of its pieces, and its strong pixels' count."""

    box: Box
    pixels: np.ndarray
    pieces: tuple[Box, ...]
    area: int


@dataclass(frozen=True)
class Glyphs:
    """An image's glyphs left to right, the marks' height (`reference`) and the pen's width (`stroke`), in pixels."""

    glyphs: list[Glyph]
    reference: float
    stroke: float


def _reference_height(pieces: Pieces, candidates: np.ndarray) -> float:
    """The marks' height: the median height of the large pieces among `candidates`."""
    area = pieces.area[candidates]
    large = candidates[area >= MAIN_PIECE * area.max()]
    return float(np.median(pieces.height[large]))


def _lines_and_frames(pieces: Pieces) -> np.ndarray:
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
    # Thin, too: digits that touch in a long row are as wide as a line but as tall as the marks.
    across = (
        (pieces.width >= LINE_LENGTH * reference)
        & (pieces.width >= 4 * pieces.height)
        & (pieces.height < 0.5 * reference)
    )
    upright = (pieces.height >= LINE_LENGTH * reference) & (pieces.height >= 8 * pieces.width)
    lines = frames | across | upright
    return lines if not lines.all() else frames


def _characters(pieces: Pieces, kept: np.ndarray, reference: float) -> list[list[int]]:
    """The kept pieces grouped into glyphs, left to right: pieces sharing most of a column, close above each other.

    Each piece, the large ones first (the small ones join them), is held against every group so far at once, as
    arrays: a few numpy steps a piece, so MAX_PIECES pieces cost milliseconds.
    """
    order = kept[np.argsort(pieces.left[kept], kind="stable")]
    order = order[np.argsort(-pieces.area[order], kind="stable")]  # large pieces first, the small ones join them
    count = len(order)
    boxes = np.zeros((4, count), dtype=np.int64)  # top, bottom, left, right of each group
    members: list[list[int]] = []
    for i in order.tolist():
        top, bottom, left, right = (int(v[i]) for v in (pieces.top, pieces.bottom, pieces.left, pieces.right))
        g_top, g_bottom, g_left, g_right = boxes[:, : len(members)]
        g_height = g_bottom - g_top
        overlap = np.minimum(right, g_right) - np.maximum(left, g_left)
        vertical_gap = np.maximum(np.maximum(top - g_bottom, g_top - bottom), 0)
        same_column = overlap >= SAME_COLUMN * np.minimum(right - left, g_right - g_left)
        # One character stays within a line: joining must not make a glyph much taller than the marks are (two
        # lines written close would chain into one), and a small piece low beside a tall glyph's foot may be a
        # decimal point or a comma: the line decides (service/reading/layout.py).
        joined_height = np.maximum(bottom, g_bottom) - np.minimum(top, g_top)
        too_tall = joined_height > np.maximum(max(CHARACTER_HEIGHT * reference, bottom - top), g_height)
        small = (bottom - top < SEPARATOR_HEIGHT * reference) & (g_height >= LINE_MARK * reference)
        low = small & (top >= g_top + BASELINE * g_height)
        # Above a glyph, only a flag joins it (a 5's, wider than tall): a dot there belongs to the line above.
        high = small & (bottom <= g_top + 0.15 * g_height) & (right - left < 1.5 * (bottom - top))
        joins = (vertical_gap <= 0.5 * reference) & same_column & ~(too_tall | low | high)
        if not joins.any():
            boxes[:, len(members)] = top, bottom, left, right
            members.append([i])
            continue
        best = int(np.flatnonzero(joins)[np.argmin(vertical_gap[joins])])  # the nearest; the first of equals
        members[best].append(i)
        box = boxes[:, best]
        box[:] = min(box[0], top), max(box[1], bottom), min(box[2], left), max(box[3], right)
    ordered = np.argsort(boxes[2, : len(members)] + boxes[3, : len(members)], kind="stable")
    return [members[g] for g in ordered.tolist()]


def cut_columns(pixels: np.ndarray, parts: int) -> list[int]:
    """Where to cut a glyph of `parts` touching digits: the emptiest column near each equal share of its width."""
    profile = pixels.sum(axis=0)
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


def parts_guess(width: int, height: int, reference: float, digit_width: float | None) -> int:
    """How many touching digits a glyph `width` wide is, by its size alone (1: it is one)."""
    tall = max(height, reference)
    if width > SPLIT_WIDTH * tall:
        return max(2, round(width / (digit_width or TOUCHING * tall)))
    if digit_width and width > TOUCHING_PAIR * tall and width > 1.6 * digit_width:
        return max(2, round(width / digit_width))
    return 1


def _own_pixels(ink: np.ndarray, owner: np.ndarray, group: list[int], box: Box) -> np.ndarray:
    """The character's ink in its box: its pieces and the faint edge beside them, not a neighbour's strokes."""
    window = box.of(owner)
    own = np.isin(window, group)
    grown = dilate(dilate(own))  # the faint anti-aliased edge beside the strokes, as crop_to_ink keeps it
    return np.where(grown & ~((window >= 0) & ~own), box.of(ink), 0.0)


def _stroke_width(starts: np.ndarray, ends: np.ndarray, labels: np.ndarray, large: np.ndarray) -> float:
    """The pen's width: the median length of the large pieces' horizontal runs (most of them cross a stroke)."""
    lengths = (ends - starts)[np.isin(labels, large)]
    return float(np.median(lengths)) if lengths.size else 1.0


def _piece_runs(starts: np.ndarray, ends: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each piece's median run length: how wide its strokes are across (a blob's runs are as wide as it is)."""
    lengths = ends - starts
    order = np.lexsort((lengths, labels))
    bounds = np.searchsorted(labels[order], np.arange(int(labels.max()) + 2))
    middle = np.minimum(bounds[:-1] + (bounds[1:] - bounds[:-1]) // 2, len(order) - 1)
    return lengths[order][middle]


def _background(pieces: Pieces, widths: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Which pieces are a photo's background rather than writing: a desk, a shadow or a sheet's edge reaching in
    from the frame, far larger than the pieces that do not touch it; or a blob whose "strokes" are many pens wide.
    Measured against the pieces' median (most pieces are characters, or their strokes), so a number cropped tight,
    all of its digits touching the frame, loses none; nor is every piece ever dropped."""
    height, width = shape
    touching = (pieces.top == 0) | (pieces.left == 0) | (pieces.bottom >= height) | (pieces.right >= width)
    # The medians leave out grain (pieces under SPECK_AREA of the image): a JPEG's specks outnumber the digits, and
    # measured by them every digit's stroke would be "many pens wide".
    counted = pieces.area >= SPECK_AREA * height * width
    counted = counted if counted.any() else np.ones(len(pieces.area), dtype=bool)
    typical = float(np.median(pieces.area[counted]))
    # The pen: the stroke width of the median ink pixel, so that a few specks do not make every stroke look wide.
    order = np.argsort(widths)
    weight = np.cumsum(pieces.area[order])
    pen = float(widths[order][np.searchsorted(weight, weight[-1] / 2)])
    large = pieces.area >= BACKGROUND_AREA * typical
    tall = (pieces.height >= BACKGROUND * height) & (pieces.height >= 2.5 * np.median(pieces.height))
    wide = (pieces.width >= BACKGROUND * width) & (pieces.width >= 4 * np.median(pieces.width))
    background = (touching & (tall | wide | large)) | (large & (widths >= BLOB_PENS * pen))
    return background if not background.all() else np.zeros(len(pieces.area), dtype=bool)


def find_glyphs(ink: np.ndarray) -> Glyphs:
    """The glyphs of `ink` (bright on zero, [0, 255]) left to right, with the marks' height and the pen's width."""
    strong = strong_pixels(ink)
    if not strong.any():
        raise InvalidInput("the image holds no digit: no ink found")
    rows, starts, ends = runs(strong)
    if len(rows) > MAX_RUNS:  # texture or noise, not strokes: one glyph, which is_digit will judge
        whole = extent(strong)
        assert whole is not None
        glyph = Glyph(whole, whole.of(ink), (whole,), int(strong.sum()))
        return Glyphs([glyph], float(whole.height), 1.0)
    labels = label_runs(rows, starts, ends)
    pieces = piece_boxes(rows, starts, ends, labels, strong.shape)
    present = np.flatnonzero(pieces.area)
    if len(present) > MAX_PIECES:  # before any step that grows faster than the pieces do
        raise InvalidInput(
            f"the image holds {len(present)} separate marks; a reading has at most {MAX_MARKS} characters"
        )
    present = present[~_background(pieces.subset(present), _piece_runs(starts, ends, labels)[present], strong.shape)]
    lines = _lines_and_frames(pieces.subset(present))
    kept = present[~lines]
    reference = _reference_height(pieces, kept)
    groups = _characters(pieces, kept, reference)
    budget.check("grouping the marks")
    large = kept[pieces.height[kept] >= 0.4 * reference]
    owner = label_image(strong.shape, rows, starts, ends, labels)
    glyphs = []
    for group in groups:
        box = pieces.box(group[0])
        for piece in group[1:]:
            box = box.union(pieces.box(piece))
        glyphs.append(
            Glyph(
                box,
                _own_pixels(ink, owner, group, box),
                tuple(pieces.box(piece) for piece in group),
                int(pieces.area[group].sum()),
            )
        )
    return Glyphs(glyphs, reference, _stroke_width(starts, ends, labels, large))


def check_count(count: int) -> None:
    """A reading has at most MAX_MARKS characters: more is text or texture, not a number."""
    if count > MAX_MARKS:
        raise InvalidInput(f"the image holds {count} marks; a reading has at most {MAX_MARKS}")
