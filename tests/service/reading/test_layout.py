"""service/reading/layout.py on boxes, without an image decoder or a model: which glyphs make a line, which small
marks are separators, and what is dropped or refused. A geometry bug fails here; a model regression cannot.

Each glyph is a filled block of ink (255) with the box it would have in an analysed image. The lines are 40 px
tall, digits 24 px wide with a 12 px gap, and the pen 5 px wide.
"""

from __future__ import annotations

import numpy as np
import pytest

from service.errors import InvalidInput
from service.reading.imageops import Box
from service.reading.layout import DIGIT, lay_out
from service.reading.segment import Glyph, Glyphs
from service.reading.tuning import MAX_MARKS

HEIGHT, WIDTH, GAP, PEN = 40, 24, 12, 5


def block(top: int, left: int, height: int, width: int) -> Glyph:
    """A glyph of one piece: a solid block of ink."""
    box = Box(top, top + height, left, left + width)
    return Glyph(box, np.full((height, width), 255, np.uint8), (box,), height * width)


def dots(top: int, left: int, size: int, gap: int) -> Glyph:
    """A glyph of two square dots above each other, `gap` rows apart: a colon."""
    height = 2 * size + gap
    pixels = np.zeros((height, size), np.uint8)
    pixels[:size] = pixels[-size:] = 255
    upper = Box(top, top + size, left, left + size)
    lower = Box(top + size + gap, top + height, left, left + size)
    return Glyph(Box(top, top + height, left, left + size), pixels, (upper, lower), 2 * size * size)


def digits(top: int, count: int, left: int = 10) -> list[Glyph]:
    """`count` digit-sized blocks on one line starting at row `top`."""
    return [block(top, left + i * (WIDTH + GAP), HEIGHT, WIDTH) for i in range(count)]


def read(glyphs: list[Glyph]) -> list[list[str]]:
    """Each line's characters: a separator as itself, a digit candidate as "digit"."""
    lines = lay_out(Glyphs(sorted(glyphs, key=lambda g: g.box.left), reference=HEIGHT, stroke=PEN))
    return [[character.kind for character in line.characters] for line in lines]


def test_glyphs_of_one_height_band_are_one_line_left_to_right():
    glyphs = digits(20, 4)
    lines = lay_out(Glyphs(glyphs, reference=HEIGHT, stroke=PEN))
    assert [[c.kind for c in line.characters] for line in lines] == [[DIGIT] * 4]
    lefts = [c.box.left for c in lines[0].characters]
    assert lefts == sorted(lefts)
    assert lines[0].box == Box(20, 20 + HEIGHT, 10, 10 + 3 * (WIDTH + GAP) + WIDTH)


def test_bands_that_do_not_overlap_are_lines_top_to_bottom():
    lower, upper = digits(100, 2), digits(20, 3)
    lines = lay_out(Glyphs(sorted(lower + upper, key=lambda g: g.box.left), reference=HEIGHT, stroke=PEN))
    assert [len(line.characters) for line in lines] == [3, 2]
    assert lines[0].box.top == 20 and lines[1].box.top == 100


def test_a_line_turned_by_a_few_degrees_stays_one_line():
    # Each digit 5 px lower than the one before: about 8 degrees over a 36 px pitch.
    glyphs = [block(20 + 5 * i, 10 + i * (WIDTH + GAP), HEIGHT, WIDTH) for i in range(6)]
    assert read(glyphs) == [[DIGIT] * 6]


def test_a_dot_on_the_baseline_is_a_decimal_point():
    first, second = digits(20, 2)
    point = block(20 + HEIGHT - 7, second.box.right + 4, 7, 7)
    third = block(20, point.box.right + 6, HEIGHT, WIDTH)
    assert read([first, second, point, third]) == [[DIGIT, DIGIT, ".", DIGIT]]


def test_a_dot_that_descends_below_the_baseline_is_a_comma():
    first, second = digits(20, 2)
    comma = block(20 + HEIGHT - 6, second.box.right + 4, 14, 6)  # 8 px (0.2 of the line) below the baseline
    third = block(20, comma.box.right + 6, HEIGHT, WIDTH)
    assert read([first, second, comma, third]) == [[DIGIT, DIGIT, ",", DIGIT]]


def test_a_short_bar_at_mid_height_is_a_minus():
    minus = block(20 + HEIGHT // 2 - 3, 10, 6, 18)
    glyphs = [minus, *digits(20, 2, left=minus.box.right + 8)]
    assert read(glyphs) == [["-", DIGIT, DIGIT]]


def test_a_bar_at_the_baseline_is_no_minus():
    bar = block(20 + HEIGHT - 6, 10, 6, 18)
    glyphs = [bar, *digits(20, 2, left=bar.box.right + 8)]
    assert "-" not in read(glyphs)[0]


def test_two_dots_above_each_other_are_a_colon():
    hours = digits(20, 2)
    colon = dots(30, hours[-1].box.right + 6, 7, 10)
    minutes = digits(20, 2, left=colon.box.right + 8)
    assert read([*hours, colon, *minutes]) == [[DIGIT, DIGIT, ":", DIGIT, DIGIT]]


def test_a_speck_finer_than_a_tenth_of_the_largest_glyph_is_dropped():
    first, second = digits(20, 2)
    speck = block(10, second.box.right + 30, 3, 3)  # above the line, far from both digits
    assert read([first, second, speck]) == [[DIGIT, DIGIT]]


def test_a_glyph_two_digits_wide_gets_candidates_for_touching_digits():
    (wide,) = [block(20, 10, HEIGHT, 2 * WIDTH + 4)]
    glyphs = [wide, *digits(20, 2, left=wide.box.right + GAP)]
    lines = lay_out(Glyphs(glyphs, reference=HEIGHT, stroke=PEN))
    character = lines[0].characters[0]
    assert character.kind == DIGIT
    assert character.digits_wide == pytest.approx((2 * WIDTH + 4) / WIDTH, rel=0.01)
    assert character.last >= 2  # a cut inside it: two digits is one of the paths through it
    assert all(segment.part.digit.shape == (28, 28) for segment in character.segments)


def test_more_marks_than_a_reading_has_are_refused_before_they_are_read():
    glyphs = digits(20, MAX_MARKS + 1)
    with pytest.raises(InvalidInput, match="marks"):
        read(glyphs)
