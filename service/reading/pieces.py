"""Stage 4b, the digit's pieces: which of the ink is the digit, and its crop.

The ink is cut into connected pieces on a reduced mask (run-length union-find: a digit costs a few hundred
steps whatever its resolution). The digit is its heaviest piece and the pieces near it; what else an image
holds (a smudge, a shadow, a second character, a photographed sheet's edge) stays out of the crop. A stroke
that touches the image's frame is part of the digit: a tightly cropped digit touches it on every side. Only
in a photo of a digit small in its frame is ink reaching in along a long stretch of the edge taken
for a sheet's edge or the desk beyond it (`reaching_in_from_the_edge`, which the pipeline applies).
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.reading.imageops import (
    Box,
    dilate,
    extent,
    label_runs,
    piece_boxes,
    reconstruct,
    reduce_blocks,
    runs,
    share,
)
from service.reading.tuning import BORDER, EDGE_SHARE, GAP, INK_THRESHOLD, LINE, MASK_CELLS, MAX_RUNS, SMALL


def mask_scale(shape: tuple[int, ...]) -> int:
    """The block side that reduces a mask of `shape` to about MASK_CELLS cells along its longer side."""
    return max(1, max(shape) // MASK_CELLS)


def reaching_in_from_the_edge(above: np.ndarray) -> np.ndarray | None:
    """The "ink" that reaches in from a long stretch of the image's edge: a photographed sheet's edge, the desk
    around it, a shadow. A digit that touches the edge touches it over a stroke's width, not a third of a side.

    Grown from those stretches through the ink on a reduced mask (the blocks' maximum, so thin lines stay
    connected), then stretched back. None when no side qualifies, or when it would leave almost no ink.
    """
    height, width = above.shape
    band = max(2, round(0.04 * min(height, width)))  # a sheet's edge runs near the border, rarely on it
    inked = extent(above)
    if inked is None or min(inked.top, inked.left, height - inked.bottom, width - inked.right) >= band:
        return None  # nothing within `band` of the frame: no side can qualify
    seeds = np.zeros_like(above)
    for rows, cols, along in (
        (slice(0, band), slice(None), 0),
        (slice(height - band, None), slice(None), 0),
        (slice(None), slice(0, band), 1),
        (slice(None), slice(width - band, None), 1),
    ):
        strip = above[rows, cols]
        if share(strip.any(axis=along)) > EDGE_SHARE:
            seeds[rows, cols] = strip
    if not seeds.any():
        return None
    scale = mask_scale(above.shape)
    grown = reconstruct(reduce_blocks(seeds, scale, np.logical_or), reduce_blocks(above, scale, np.logical_or))
    frame = dilate(np.repeat(np.repeat(grown, scale, axis=0), scale, axis=1))[:height, :width]
    left = above & ~frame
    return frame if left.sum() >= 0.02 * above.sum() and left.any() else None


def border_lines(box: list[np.ndarray], area: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Which pieces (boxes: top, bottom, left, right; areas in cells) are the edges of a photographed sheet.

    A sheet's edge runs along a side of the image within BORDER of it, thin (area under LINE x length) and
    often broken by the grain into dashes. Thin pieces in a side's band that run along it are its dashes
    when together they cover more than a third of that side.
    """
    height, width = shape
    top, bottom, left, right = box
    tall, wide = bottom - top, right - left
    thin = area <= LINE * min(height, width) * (tall + wide)
    lines = np.zeros(len(area), dtype=bool)
    for band, along, length, side in (
        (top < BORDER * height, wide >= 2 * tall, width, (left, right)),
        (bottom > (1 - BORDER) * height, wide >= 2 * tall, width, (left, right)),
        (left < BORDER * width, tall >= 2 * wide, height, (top, bottom)),
        (right > (1 - BORDER) * width, tall >= 2 * wide, height, (top, bottom)),
    ):
        dashes = np.flatnonzero(band & along & thin)
        covered = np.zeros(length, dtype=bool)
        for dash in dashes.tolist():
            covered[side[0][dash] : side[1][dash]] = True
        if covered.sum() > length / 3:
            lines[dashes] = True
    return lines


def digit_extent(strong: np.ndarray, ink: np.ndarray) -> Box:
    """The box of the digit among the ink: its heaviest connected piece (darkest and largest) and the pieces near it.

    What else an image holds (a smudge, a shadow, a photographed corner, a second character) stays out of
    the crop when it is not close to the digit. The pieces are found on a mask reduced to about MASK_CELLS cells.
    """
    whole = extent(strong)
    assert whole is not None
    if max(strong.shape) <= SMALL:
        return whole  # already framed around one digit, whose pieces would all be within reach of each other
    scale = mask_scale(strong.shape)
    mask = reduce_blocks(strong, scale, np.logical_or)
    # Squared, so a dark stroke outweighs a wide light shadow or smudge of the same total ink.
    mass = reduce_blocks(np.where(strong, np.square(ink / np.float32(255.0)), np.float32(0.0)), scale, np.add)
    rows, starts, ends = runs(mask)
    if len(rows) > MAX_RUNS or len(rows) < 2:
        return whole
    labels = label_runs(rows, starts, ends)
    count = int(labels.max()) + 1
    if not labels.any():
        return whole  # one piece
    summed = np.concatenate([np.zeros((mask.shape[0], 1)), np.cumsum(mass, axis=1)], axis=1)
    run_mass = summed[rows, ends] - summed[rows, starts]
    weight = np.bincount(labels, run_mass, count)
    measured = piece_boxes(rows, starts, ends, labels, mask.shape)
    box = [measured.top, measured.bottom, measured.left, measured.right]
    pieces = np.flatnonzero(weight)
    lines = border_lines(box, measured.area, mask.shape)
    if not lines[pieces].all():
        pieces = pieces[~lines[pieces]]
    chosen = {int(pieces[np.argmax(weight[pieces])])}
    r0, r1, c0, c1 = (int(b[next(iter(chosen))]) for b in box)
    grew = True
    while grew:
        grew = False
        reach = GAP * max(r1 - r0, c1 - c0) + 1
        for piece in pieces.tolist():
            if piece in chosen:
                continue
            gap = max(box[0][piece] - r1, r0 - box[1][piece], box[2][piece] - c1, c0 - box[3][piece])
            if gap <= reach:
                chosen.add(piece)
                r0, r1 = min(r0, int(box[0][piece])), max(r1, int(box[1][piece]))
                c0, c1 = min(c0, int(box[2][piece])), max(c1, int(box[3][piece]))
                grew = True
    inside = np.zeros_like(strong)
    inside[r0 * scale : r1 * scale, c0 * scale : c1 * scale] = strong[r0 * scale : r1 * scale, c0 * scale : c1 * scale]
    found = extent(inside)
    return found if found is not None else whole


def strong_pixels(ink: np.ndarray) -> np.ndarray:
    """Stroke pixels: above the threshold, with a stroke neighbour (a lone speck of noise has none)."""
    above = ink > INK_THRESHOLD * 255
    height, width = above.shape
    padded = np.zeros((height + 2, width + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = above
    # The 3x3 sums, one axis at a time (exact: at most 9 in uint8).
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    neighbours = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return above & (neighbours > 3)


def crop_to_ink(ink: np.ndarray, margin: int = 2) -> np.ndarray:
    """The digit's box: its strokes above a threshold, plus the faint anti-aliased edge beside them.

    The threshold keeps compression noise far from the digit out of the box; the margin keeps the
    faint edge pixels of a clean digit (as MNIST has) in it. Ink away from the digit's own strokes
    (`digit_extent`) is left out.
    """
    strong = strong_pixels(ink)
    if not strong.any():
        raise InvalidInput("the image holds no digit: no ink found")
    found = digit_extent(strong, ink)
    window = Box(max(found.top - margin, 0), found.bottom + margin, max(found.left - margin, 0), found.right + margin)
    inner = extent(window.of(ink) > 0)
    assert inner is not None  # the window holds the strong pixels, which are above 0
    return inner.of(window.of(ink))
