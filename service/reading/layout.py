"""Stage 4d, for reading what is written: glyphs -> lines of characters, each a digit candidate or a separator.

Pure geometry, measured against each line's own height and slope:
- **lines**: the tall glyphs are chained left to right to the line whose last glyph their height overlaps most
  (so a line turned by up to about 10 degrees stays one line); lines run top to bottom;
- each line's band (its middle and height at every column) is fitted to its tall glyphs; every small glyph is
  placed on the line whose band is nearest to it;
- **separators**, by size and place in the band: a decimal point is a blob at the baseline, a comma a blob that
  descends below it, a minus a short bar at mid-height, a colon two dots above each other, a slash a thin
  leaning stroke taller than the digits;
- a small glyph that is none of these joins the glyph beside it when it is close (a broken stroke), is dropped
  when it is finer than the pen (a speck), and is otherwise a character to read;
- a glyph well under the line's height whose top is below the line's (a lowercase letter, a unit) is marked
  `undersized`: no digit is;
- a wide glyph may be digits that touch: it gets cut points (the emptiest columns) and a candidate digit between
  every two of them a digit's width apart (`segments`); the models decide which path through them reads best.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from service.errors import InvalidInput
from service.reading import budget
from service.reading.fit import as_mnist
from service.reading.imageops import Box, extent
from service.reading.segment import Glyph, Glyphs, check_count, cut_columns, parts_guess
from service.reading.tuning import (
    BASELINE,
    COMMA_DESCENT,
    CUT_SPACING,
    DESCENT,
    DOT_PEN,
    DOT_WIDTH,
    INK_THRESHOLD,
    INSIDE,
    JOIN_GAP,
    LINE_MARK,
    MAX_CANDIDATES,
    MAYBE_TOUCHING,
    MINUS_ASPECT,
    MINUS_MIDDLE,
    PART_WIDTH,
    SAME_LINE,
    SEPARATOR_HEIGHT,
    SLASH_LEAN,
    SLASH_TALLER,
    SLASH_THIN,
    SPECK,
    TYPICAL_WIDTH,
    UNDERSIZED,
)

SEPARATORS = (".", ",", "-", "/", ":")
DIGIT = "digit"


@dataclass(frozen=True)
class Part:
    """One digit of a reading of a glyph: its box (of its ink) in the analysed image, and its 28x28 fitted ink."""

    box: Box
    digit: np.ndarray


@dataclass(frozen=True)
class Segment:
    """A candidate digit of a glyph: the ink between its cut points number `start` and `end`, and how wide it is
    for its line (a share of the line's height)."""

    start: int
    end: int
    part: Part
    width: float


@dataclass
class Character:
    """A character of a line: a separator ("." "," "-" "/" ":"), or a digit candidate (`kind` "digit") with its
    candidate digits (`segments`, from cut point 0 to cut point `last`: the whole glyph, or the digits that
    touch in it) and the width a digit of its line has (a share of the line's height)."""

    kind: str
    box: Box
    segments: list[Segment] = field(default_factory=list)
    last: int = 1
    digit_width: float = 0.6
    undersized: bool = False
    line_height: float = 0.0
    alternative: Character | None = None  # a slash: the digit candidate it is too (a leaning 1), when no date

    @property
    def digits_wide(self) -> float:
        """How many of its line's digits wide the glyph is."""
        return self.box.width / max(1e-6, self.digit_width * self.line_height)


@dataclass
class Line:
    """A line of characters, left to right, and its box."""

    characters: list[Character]

    @property
    def box(self) -> Box:
        box = self.characters[0].box
        for character in self.characters[1:]:
            box = box.union(character.box)
        return box


@dataclass
class _Band:
    """A line being built: its tall glyphs, and the fitted middle (at a column) and height of its band."""

    glyphs: list[Glyph]
    small: list[Glyph] = field(default_factory=list)
    slope: float = 0.0
    intercept: float = 0.0
    height: float = 1.0

    def fit(self) -> None:
        centres = np.array([g.box.centre for g in self.glyphs])
        middles = np.array([g.box.middle for g in self.glyphs])
        self.height = float(np.median([g.box.height for g in self.glyphs]))
        if len(self.glyphs) >= 2 and np.ptp(centres) > 0:
            self.slope = float(np.clip(np.polyfit(centres, middles, 1)[0], -0.2, 0.2))  # at most about 11 degrees
        self.intercept = float(np.median(middles - self.slope * centres))

    def middle(self, column: float) -> float:
        return self.intercept + self.slope * column

    def top(self, column: float) -> float:
        return self.middle(column) - self.height / 2


def _overlap(a: Box, b: Box) -> float:
    return (min(a.bottom, b.bottom) - max(a.top, b.top)) / max(1, min(a.height, b.height))


def _lines(tall: list[Glyph]) -> list[_Band]:
    """Tall glyphs chained into lines, left to right, each to the line whose last glyph it overlaps most."""
    bands: list[_Band] = []
    for glyph in sorted(tall, key=lambda g: g.box.left):
        best = max(bands, key=lambda band: _overlap(band.glyphs[-1].box, glyph.box), default=None)
        if best is not None and _overlap(best.glyphs[-1].box, glyph.box) >= SAME_LINE:
            best.glyphs.append(glyph)
        else:
            bands.append(_Band([glyph]))
    for band in bands:
        band.fit()
    return sorted(bands, key=lambda band: band.middle(band.glyphs[0].box.centre))


def _lean_and_thinness(pixels: np.ndarray) -> tuple[float, float]:
    """The ink's major axis, in degrees from upright (positive: its top leans right), and minor / major axis."""
    rows, cols = np.nonzero(pixels > INK_THRESHOLD * 255)
    if rows.size < 3:
        return 0.0, 1.0
    weights = pixels[rows, cols].astype(np.float64)
    x, y = cols - np.average(cols, weights=weights), rows - np.average(rows, weights=weights)
    values, vectors = np.linalg.eigh(np.cov(np.stack([x, y]), aweights=weights))
    major = vectors[:, 1]
    lean = math.degrees(math.atan2(major[0], -major[1]))
    lean = lean - 180 if lean > 90 else lean + 180 if lean < -90 else lean
    return lean, math.sqrt(max(values[0], 0.0) / max(values[1], 1e-9))


def _is_colon(glyph: Glyph, height: float) -> bool:
    """Two small blobs above each other, together about half the line's height or more."""
    if len(glyph.pieces) != 2 or glyph.box.height < 0.35 * height:
        return False
    upper, lower = sorted(glyph.pieces, key=lambda box: box.top)
    return _dot_sized(upper, height) and _dot_sized(lower, height) and lower.top >= upper.bottom


def _dot_sized(box: Box, height: float) -> bool:
    """Small enough, for a line `height` tall, to be a point, a comma or one of a colon's dots."""
    return box.height <= SEPARATOR_HEIGHT * height and box.width <= DOT_WIDTH * height


def _colons(small: list[Glyph], band: _Band, stroke: float) -> list[Glyph]:
    """The small glyphs of a line, each two dots above each other (a colon whose dots are too far apart to have
    been grouped as one glyph) joined into one."""

    def dot(glyph: Glyph) -> bool:
        box = glyph.box
        return (
            len(glyph.pieces) == 1 and _dot_sized(box, band.height) and min(box.width, box.height) >= DOT_PEN * stroke
        )

    found = sorted(small, key=lambda g: g.box.top)
    used: set[int] = set()
    joined: list[Glyph] = []
    for i, upper in enumerate(found):
        if i in used or not dot(upper):
            continue
        for j in range(i + 1, len(found)):
            lower = found[j]
            if j in used or not dot(lower) or lower.box.top < upper.box.bottom:
                continue
            span = lower.box.bottom - upper.box.top
            # Above each other, or leaning as italic type and slanted writing lean (up to about 27 degrees).
            leaning = abs(upper.box.centre - lower.box.centre) <= 0.5 * span
            if leaning and 0.35 * band.height <= span <= band.height:
                joined.append(_joined(upper, lower))
                used.update((i, j))
                break
    return joined + [g for k, g in enumerate(found) if k not in used]


def _separator(glyph: Glyph, band: _Band, stroke: float) -> str | None:
    """Which separator a small glyph is, by its size and place in its line's band; None for none."""
    box, height = glyph.box, band.height
    top = band.top(box.centre)
    if _is_colon(glyph, height):
        return ":"
    if box.height > SEPARATOR_HEIGHT * height:
        return None
    middle = (box.middle - top) / height
    if box.width >= MINUS_ASPECT * box.height and MINUS_MIDDLE[0] <= middle <= MINUS_MIDDLE[1]:
        return "-" if box.width <= 1.2 * height else None
    if box.width > DOT_WIDTH * height or min(box.width, box.height) < DOT_PEN * stroke:
        return None
    if (box.bottom - top) / height < BASELINE:
        return None
    descent = (box.bottom - (top + height)) / height
    comma = descent >= COMMA_DESCENT or (descent >= DESCENT and box.height >= 1.2 * box.width)
    return "," if comma else "."


def _is_slash(glyph: Glyph, band: _Band) -> bool:
    box = glyph.box
    if len(glyph.pieces) != 1 or box.height < SLASH_TALLER * band.height or box.width >= box.height:
        return False
    lean, thinness = _lean_and_thinness(glyph.pixels)
    return SLASH_LEAN <= lean <= 45 and thinness <= SLASH_THIN


def _part(glyph: Glyph, left: int, right: int) -> Part | None:
    """The glyph's ink between two columns, fitted; its box of its strong ink. None where there is none."""
    piece = glyph.pixels[:, left:right]
    box, crop = extent(piece > INK_THRESHOLD * 255), extent(piece > 0)
    if box is None or crop is None:
        return None
    return Part(box.shifted(glyph.box.top, glyph.box.left + left), as_mnist(crop.of(piece)))


def _cut_points(glyph: Glyph, height: float, digit_width: float | None, reference: float) -> list[int]:
    """Where touching digits in a wide glyph may part: the emptiest columns of each stretch of it (local minima
    of its ink across), and where equal shares of its width by the size's own guess fall (`cut_columns`)."""
    profile = glyph.pixels.sum(axis=0)
    width = len(profile)
    reach = max(1, round(CUT_SPACING * height))
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    minima = [
        column
        for column in range(reach, width - reach)
        if smooth[column] <= smooth[column - reach : column + reach + 1].min() + 1e-6
    ]
    guess = parts_guess(glyph.box.width, glyph.box.height, reference, digit_width)
    chosen = sorted({*minima, *(cut_columns(glyph.pixels, guess) if guess > 1 else [])})
    kept: list[int] = []
    for column in chosen:  # one cut point for each run of neighbouring columns
        if not kept or column - kept[-1] >= reach:
            kept.append(column)
    return kept


@dataclass
class _Candidates:
    """How many candidate digits an image may still have cut (MAX_CANDIDATES in all): each costs a fit and a run
    of both models, and a wide scrawl of many cut points would otherwise make thousands."""

    left: int = MAX_CANDIDATES

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise InvalidInput(
                f"the image's marks would make more than {MAX_CANDIDATES} candidate digits: "
                "it is not a number this service reads"
            )


def _digit(
    glyph: Glyph, band: _Band, digit_width: float | None, reference: float, candidates: _Candidates
) -> Character:
    """A digit candidate: the whole glyph, and where it is wide enough to be several, the digits that may touch."""
    height = band.height
    top = band.top(glyph.box.centre)
    undersized = glyph.box.height < UNDERSIZED * height and glyph.box.top - top > 0.25 * height
    width = (digit_width or TYPICAL_WIDTH * height) / height
    nodes = [0, glyph.box.width]
    if glyph.box.width >= MAYBE_TOUCHING * height:
        nodes = [0, *_cut_points(glyph, height, digit_width, reference), glyph.box.width]
    last = len(nodes) - 1
    spans = [
        (i, j)
        for i, j in itertools.combinations(range(len(nodes)), 2)
        if (i == 0 and j == last) or PART_WIDTH[0] <= (nodes[j] - nodes[i]) / height <= PART_WIDTH[1]
    ]
    candidates.take(len(spans))  # before the costly step: fitting each
    segments = []
    for i, j in spans:
        part = _part(glyph, nodes[i], nodes[j])
        if part is not None:
            segments.append(Segment(i, j, part, (nodes[j] - nodes[i]) / height))
    return Character(DIGIT, glyph.box, segments, last, width, undersized, height)


def _columns_shared(small: Box, other: Box) -> float:
    """The share of `small`'s columns that `other` spans too."""
    return max(0, min(small.right, other.right) - max(small.left, other.left)) / max(1, small.width)


def _gap(a: Box, b: Box) -> float:
    """How far apart two boxes are, across or down, whichever is larger (0 when they overlap)."""
    return max(a.left - b.right, b.left - a.right, a.top - b.bottom, b.top - a.bottom, 0)


def _joined(glyph: Glyph, piece: Glyph) -> Glyph:
    """`glyph` with a broken stroke beside it joined to it."""
    box = glyph.box.union(piece.box)
    pixels = np.zeros((box.height, box.width), dtype=np.float32)
    for part in (glyph, piece):
        region = part.box.shifted(-box.top, -box.left)
        np.maximum(region.of(pixels), part.pixels, out=region.of(pixels))
    return Glyph(box, pixels, glyph.pieces + piece.pieces, glyph.area + piece.area)


def _place(small: Glyph, bands: list[_Band]) -> _Band | None:
    """The line whose band is nearest to a small glyph's middle, within a line's height of it."""

    def distance(band: _Band) -> float:
        return abs(small.box.middle - band.middle(small.box.centre)) / band.height

    nearest = min(bands, key=distance)
    return nearest if distance(nearest) <= 1.0 else None


def _digit_widths(band: _Band) -> list[int]:
    return [g.box.width for g in band.glyphs if 0.4 * band.height <= g.box.width <= g.box.height]


def lay_out(found: Glyphs) -> list[Line]:
    """The lines of characters of an image's glyphs, top to bottom, each left to right."""
    largest = max(g.area for g in found.glyphs)
    # A tall sliver finer than the pen, or with a tenth of the ink of the largest glyph (a sheet's edge, a fold,
    # a scratch), is no character.
    tall = [
        g
        for g in found.glyphs
        if g.box.height >= LINE_MARK * found.reference
        and g.area >= SPECK * largest
        and g.box.width >= 0.5 * found.stroke
    ]
    small = [g for g in found.glyphs if g.box.height < LINE_MARK * found.reference]
    if not tall:  # only small marks: they are the line
        tall, small = [g for g in found.glyphs if g.area >= SPECK * largest], []
    check_count(len(tall))  # each tall glyph is a character at least: too many are refused before they are read
    bands = _lines(tall)
    for glyph in small:
        band = _place(glyph, bands)
        if band is not None:
            band.small.append(glyph)
    everywhere = [w for band in bands for w in _digit_widths(band)]
    candidates = _Candidates()
    lines: list[Line] = []
    for band in bands:
        widths = _digit_widths(band)
        # A digit's width from its line's marks that are neither 1s nor wider than tall, else from every line's.
        widths = widths if len(widths) >= 2 else everywhere
        digit_width = float(np.median(widths)) if len(widths) >= 2 else None
        characters: list[Character] = []
        glyphs = list(band.glyphs)
        for glyph in _colons(band.small, band, found.stroke):
            # A small piece half inside a tall glyph's columns is part of it (a serif, a 4's corner), no separator.
            inside = any(_columns_shared(glyph.box, tall_glyph.box) >= INSIDE for tall_glyph in band.glyphs)
            kind = None if inside else _separator(glyph, band, found.stroke)
            if kind is not None:
                characters.append(Character(kind, glyph.box))
                continue
            if glyph.area < SPECK * largest:
                continue  # a speck
            nearest = min(range(len(glyphs)), key=lambda i: _gap(glyphs[i].box, glyph.box))
            if _gap(glyphs[nearest].box, glyph.box) <= JOIN_GAP * found.reference:
                glyphs[nearest] = _joined(glyphs[nearest], glyph)  # a broken stroke
            else:
                glyphs.append(glyph)  # a character of its own, small: what it is, the models say
        # Each glyph left is one character at least, and reading one (its cut points, its candidate digits) is
        # the costly step: a line past the limit is refused before.
        check_count(sum(len(line.characters) for line in lines) + len(characters) + len(glyphs))
        for glyph in glyphs:
            budget.check("reading a line's marks")
            if _is_colon(glyph, band.height):
                characters.append(Character(":", glyph.box))
            elif _is_slash(glyph, band):
                alternative = _digit(glyph, band, digit_width, found.reference, candidates)
                characters.append(Character("/", glyph.box, alternative=alternative))
            else:
                characters.append(_digit(glyph, band, digit_width, found.reference, candidates))
        characters.sort(key=lambda c: c.box.centre)
        lines.append(Line(characters))
    return lines
