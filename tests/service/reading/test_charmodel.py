"""The third reader of /read: the crop of a mark in its line that the character model is given, the committed model
through the real onnxruntime, and /read's answer with it (is_number only where it names every character alike)."""

from __future__ import annotations

import numpy as np
import pytest

from service.reading.charcrop import CHAR_SIZE, char_image
from service.reading.imageops import Box


def _band() -> tuple[np.ndarray, Box]:
    ink = np.zeros((100, 300), np.float32)
    return ink, Box(20, 80, 10, 290)  # a line 60 px high


def test_a_digit_fills_the_band_and_a_comma_is_small_and_low():
    ink, band = _band()
    ink[20:80, 40:70] = 200.0  # a digit as tall as its line
    ink[70:88, 100:108] = 200.0  # a comma: its foot below the line
    digit = char_image(ink, band, Box(20, 80, 40, 70))
    comma = char_image(ink, band, Box(70, 88, 100, 108))
    for crop in (digit, comma):
        assert crop.shape == (CHAR_SIZE, CHAR_SIZE) and crop.dtype == np.float32
        assert crop.max() == pytest.approx(1.0) and crop.min() >= 0.0
    rows = lambda crop: np.nonzero(crop.max(axis=1) > 0.5)[0]  # noqa: E731
    assert len(rows(digit)) > 0.6 * CHAR_SIZE  # a digit spans most of the crop's height
    assert len(rows(comma)) < 0.4 * CHAR_SIZE and rows(comma).min() > CHAR_SIZE / 2  # a comma: short, low
    cols = lambda crop: np.nonzero(crop.max(axis=0) > 0.5)[0]  # noqa: E731
    assert abs(cols(comma).mean() - CHAR_SIZE / 2) < 2  # centred across


def test_a_hyphen_sits_halfway_up_and_the_neighbours_are_left_out():
    ink, band = _band()
    ink[20:80, 40:66] = 200.0  # a digit, 6 px before the hyphen
    ink[46:52, 72:95] = 200.0
    hyphen = char_image(ink, band, Box(46, 52, 72, 95))
    rows = np.nonzero(hyphen.max(axis=1) > 0.5)[0]
    assert abs(rows.mean() - CHAR_SIZE / 2) < 3 and len(rows) < CHAR_SIZE / 4
    cols = np.nonzero(hyphen.max(axis=0) > 0.1)[0]
    assert cols.min() > CHAR_SIZE // 8 and cols.max() < CHAR_SIZE - CHAR_SIZE // 8  # the hyphen alone, centred


def test_an_empty_or_inkless_box_is_all_zeros():
    ink, band = _band()
    assert not char_image(ink, band, Box(30, 40, 50, 60)).any()
    assert char_image(ink, band, Box(30, 30, 50, 50)).shape == (CHAR_SIZE, CHAR_SIZE)


@pytest.fixture(scope="module")
def runtime(settings):
    from service.bootstrap import build_runtime

    return build_runtime(settings)


def _named(runtime, data: bytes) -> list[str]:
    """What the committed character model names each character of `data` that the first reader wrote."""
    from service.core import marks
    from service.core.charmodel import char_model, name_characters
    from service.core.classify import check, classify
    from service.reading import read_image

    digits_api = runtime.digits
    cnn, checker = digits_api.model("cnn", None), digits_api.checker()
    third = char_model(runtime.registry, "charmodel")
    assert third is not None, "no character model in the repository"
    page = read_image(data, 4_000_000)
    candidates, digits = marks.candidate_digits(page)
    found = marks.decode(page, candidates, classify(digits_api.runner, cnn, digits),
                         check(digits_api.runner, checker, digits, count=False), cnn.labels)  # fmt: skip
    return [reading.text for reading in name_characters(digits_api.runner, third, page, found)]


def test_the_committed_model_names_handwritten_digits_and_separators(runtime, glyphs):
    from tests.images import encode, number_ink, on_white

    assert _named(runtime, encode(on_white(number_ink(glyphs, "2026")))) == ["2026"]
    ink = number_ink(glyphs, "47")  # ink 255 on 0, the digits 16 px from the top
    digit = max(glyphs[4].shape[0], glyphs[7].shape[0])
    line = np.zeros((ink.shape[0], ink.shape[1] + digit), np.float32)
    line[:, digit:] = ink
    middle, pen = 16 + digit // 2, max(2, digit // 12)
    line[middle - pen : middle + pen, 16 + digit // 4 : 16 + digit // 4 + digit // 2] = 255  # a minus, halfway up
    assert _named(runtime, encode(on_white(line))) == ["-47"]


def test_the_committed_model_names_a_drawn_letter_no_character(runtime):
    from tests.images import A_LETTER, drawn

    assert _named(runtime, drawn(A_LETTER)) == ["?"]


def test_read_answers_with_all_three_readers_agreeing(client, glyphs):
    from tests.images import encode, number_ink, on_white

    body = client.post("/read", data=encode(on_white(number_ink(glyphs, "2026"))), content_type="image/png").json
    assert body["text"] == "2026" and body["is_number"] is True
    assert body["readers_agree"] is True and "alternatives" not in body
