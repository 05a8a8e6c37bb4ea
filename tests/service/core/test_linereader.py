"""The second reader of /read: the line crop it is given, CTC's best path, the committed model through the real
onnxruntime, and the rule that joins it to the segmenting reader (is_number only where both agree)."""

from __future__ import annotations

import numpy as np
import pytest

from service.core.assemble import _join as join
from service.core.linereader import LineReading
from service.reading.imageops import Box
from service.reading.linecrop import ALPHABET, LINE_HEIGHT, MAX_LINE_WIDTH, batch_lines, ctc_greedy, line_image, to_line


def _steps(symbols: list[int], sure: float = 0.9) -> np.ndarray:
    """A CTC output whose best path is `symbols` (0: blank; i: ALPHABET[i - 1])."""
    out = np.full((len(symbols), 1 + len(ALPHABET)), (1 - sure) / len(ALPHABET), np.float32)
    out[np.arange(len(symbols)), symbols] = sure
    return out


def test_ctc_greedy_collapses_repeats_and_drops_blanks():
    one, two, dot = 2, 3, ALPHABET.index(".") + 1
    text, confidence, margin = ctc_greedy(_steps([0, one, one, 0, one, dot, dot, 0, two, 0]))
    assert text == "11.2"
    assert confidence == pytest.approx(0.9**4)
    assert margin == pytest.approx(0.9 - 0.1 / len(ALPHABET))
    assert ctc_greedy(_steps([0, 0, 0]))[0] == ""


def test_a_line_crop_is_line_height_high_at_full_strength_with_its_proportions():
    ink = np.zeros((200, 900), np.float32)
    ink[50:150, 100:700] = 120.0  # a 600 x 100 band of ink
    line = to_line(ink, margin=0.1)
    assert line.shape[0] == LINE_HEIGHT and line.dtype == np.float32
    assert line.shape[1] == round(620 * LINE_HEIGHT / 120)  # the margin kept on both sides, proportions kept
    assert line.max() == pytest.approx(1.0) and line.min() >= 0.0
    assert to_line(np.zeros((10, 10))).shape == (LINE_HEIGHT, LINE_HEIGHT)
    wide = np.ones((10, 10_000), np.float32)
    assert to_line(wide).shape[1] == MAX_LINE_WIDTH
    boxed = line_image(ink, Box(50, 100, 100, 600))  # top, left, height, width
    assert boxed.shape[0] == LINE_HEIGHT


def test_lines_are_batched_padded_to_a_width_of_a_multiple_of_four():
    batch = batch_lines([np.ones((LINE_HEIGHT, 37), np.float32), np.ones((LINE_HEIGHT, 10), np.float32)])
    assert batch.shape == (2, LINE_HEIGHT, 40, 1)
    assert batch[1, :, 10:].max() == 0 and batch[0, :, :37].min() == 1


def _body(texts: list[str], is_number: bool = True) -> dict:
    return {"text": "\n".join(texts), "lines": [{"text": t} for t in texts], "is_number": is_number}


class _Model:
    name, version = "linereader", 1


def test_readers_that_agree_leave_the_answer_sure():
    body = _body(["12.50", "-7"])
    join(body, [(_Model(), [LineReading("12.50", 0.99), LineReading("-7", 0.98)])])
    assert body["is_number"] is True and body["readers_agree"] is True and "alternatives" not in body


@pytest.mark.parametrize(
    ("first", "second"),
    [(["525,691"], ["5251691"]), (["614125"], ["6/4/25"]), (["12", "3"], ["12"]), (["1250"], ["1,250"])],
)
def test_readers_that_differ_say_no_number_and_give_the_other_reading(first, second):
    body = _body(first)
    join(body, [(_Model(), [LineReading(t, 0.9) for t in second])])
    assert body["is_number"] is False and body["readers_agree"] is False
    assert body["alternatives"] == [
        {"text": "\n".join(second), "confidence": pytest.approx(0.9 ** len(second)), "reader": "linereader v1"}
    ]
    assert body["text"] == "\n".join(first)  # the first reader's text stays the answer


class _CharModel:
    name, version = "charmodel", 2


def test_every_reader_must_agree_and_each_that_differs_is_an_alternative():
    body = _body(["87"])
    join(body, [(_Model(), [LineReading("87", 0.9)]), (_CharModel(), [LineReading("8?", 0.8)])])
    assert body["is_number"] is False and body["readers_agree"] is False
    assert [a["reader"] for a in body["alternatives"]] == ["charmodel v2"]
    body = _body(["5.24"])
    join(body, [(_Model(), [LineReading("5,24", 0.5)]), (_CharModel(), [LineReading("5,24", 0.7)])])
    assert [(a["text"], a["reader"]) for a in body["alternatives"]] == [
        ("5,24", "linereader v1"),
        ("5,24", "charmodel v2"),
    ]
    body = _body(["5,24"])
    join(body, [(_Model(), [LineReading("5,24", 0.5)]), (_CharModel(), [LineReading("5,24", 0.7)])])
    assert body["is_number"] is True and body["readers_agree"] is True
