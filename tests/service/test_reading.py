"""Reading a number: the marks of an image (pure functions) and the reading over the real CNN."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.core.digits import read
from service.core.model import load_version
from service.core.runner import ModelRunner
from service.errors import InvalidInput
from service.reading.pipeline import marks_from_image, mnist_from_image
from tests.conftest import MODELS, NEWEST
from tests.images import encode, number_ink, on_white


@pytest.fixture(scope="module")
def cnn():
    return load_version(MODELS / "cnn" / str(NEWEST["cnn"]), ["CPUExecutionProvider"], 1)


def _text(cnn, data: bytes) -> str:
    return read(ModelRunner(100), cnn, None, marks_from_image(data, 25_000_000))["text"]


@pytest.mark.parametrize("text", ["2026", "10", "73", "4815162342"])
def test_handwritten_numbers_are_read_left_to_right(cnn, glyphs, text):
    assert _text(cnn, encode(on_white(number_ink(glyphs, text)))) == text


def test_digits_that_nearly_touch_are_read_apart(cnn, glyphs):
    assert _text(cnn, encode(on_white(number_ink(glyphs, "5381", gap=0.04)))) == "5381"


def test_each_box_is_in_pixels_of_the_image_as_sent(cnn, glyphs):
    ink = number_ink(glyphs, "47")
    small = marks_from_image(encode(on_white(ink)), 25_000_000)
    # The same image 5x larger, as a JPEG the decoder reduces while decoding: the boxes scale with it.
    big = on_white(ink).resize((ink.shape[1] * 5, ink.shape[0] * 5), Image.Resampling.BICUBIC)
    large = marks_from_image(encode(big.convert("RGB"), "JPEG", quality=95), 25_000_000)
    assert len(small) == len(large) == 2
    for a, b in zip(small, large, strict=True):
        assert np.allclose(np.array(b.box), 5 * np.array(a.box), atol=12), (a.box, b.box)
    # Each box holds its digit's ink: the left box is left of the right one and they do not overlap.
    (x0, _, w0, _), (x1, _, _, _) = (m.box for m in small)
    assert x0 + w0 <= x1


def test_boxes_follow_the_exif_orientation(cnn, glyphs):
    upright = on_white(number_ink(glyphs, "31"))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # the camera's sensor order; EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored.convert("RGB"), "JPEG", quality=95, exif=exif)
    assert _text(cnn, data) == "31"
    marks = marks_from_image(data, 25_000_000)
    assert len(marks) == 2
    right = max(m.box[0] + m.box[2] for m in marks)
    bottom = max(m.box[1] + m.box[3] for m in marks)
    assert right <= upright.width and bottom <= upright.height  # in the upright image's frame
    assert marks[0].box[0] < marks[1].box[0]


def test_a_digit_in_several_pieces_is_one_digit(cnn, glyphs):
    """A 5 whose flag does not touch its body, and a 4 drawn with a gap in its stroke."""
    image = Image.new("L", (260, 140), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(40, 22), (85, 22)], fill=0, width=9)  # the 5's flag, apart from its body
    draw.line([(40, 34), (36, 62)], fill=0, width=9)
    draw.arc((28, 52, 92, 118), start=-150, end=140, fill=0, width=9)
    draw.line([(190, 20), (150, 85), (215, 85)], fill=0, width=9)  # a 4: one stroke ...
    draw.line([(195, 58), (195, 122)], fill=0, width=9)  # ... and the upright apart from it
    answer = read(ModelRunner(100), cnn, None, marks_from_image(encode(image), 25_000_000))
    assert len(answer["digits"]) == 2
    assert answer["text"] == "54"


def test_a_thin_box_around_a_form_field_is_not_a_digit(cnn, glyphs):
    ink = number_ink(glyphs, "2026")
    image = on_white(np.pad(ink, 12))
    ImageDraw.Draw(image).rectangle((4, 4, image.width - 5, image.height - 5), outline=0, width=2)
    assert _text(cnn, encode(image)) == "2026"
    # ... and an underline beneath the number is not one either.
    image = on_white(np.pad(ink, 12))
    ImageDraw.Draw(image).line([(6, image.height - 8), (image.width - 6, image.height - 8)], fill=0, width=3)
    assert _text(cnn, encode(image)) == "2026"


def test_specks_far_from_the_digits_are_not_digits(cnn, glyphs):
    image = on_white(np.pad(number_ink(glyphs, "68"), 30))
    draw = ImageDraw.Draw(image)
    for x, y in ((8, 8), (image.width - 12, 10), (image.width // 2, image.height - 10)):
        draw.ellipse((x, y, x + 3, y + 3), fill=0)
    assert _text(cnn, encode(image)) == "68"


def test_a_single_digit_is_read_as_predict_prepares_it(cnn, mnist_sample):
    images, _ = mnist_sample
    data = encode(Image.fromarray(255 - images[0]))
    marks = marks_from_image(data, 25_000_000)
    assert len(marks) == 1
    assert np.array_equal(marks[0].digit, mnist_from_image(data, 25_000_000))


def test_light_ink_on_dark_and_a_transparent_canvas_are_read(cnn, glyphs):
    ink = number_ink(glyphs, "907")
    assert _text(cnn, encode(Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8)))) == "907"
    canvas = Image.new("RGBA", (ink.shape[1], ink.shape[0]), (0, 0, 0, 0))
    canvas.putalpha(Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8)))
    assert _text(cnn, encode(canvas)) == "907"


def test_an_image_without_ink_holds_no_digit():
    with pytest.raises(InvalidInput, match="no digit"):
        marks_from_image(encode(Image.new("L", (300, 100), 255)), 25_000_000)


@pytest.mark.parametrize("desk", [60, 160])
def test_a_sheet_photographed_on_a_desk_is_read_without_the_desk(cnn, glyphs, desk):
    """A light sheet with a number on a dark or a grey desk, the desk all around it: the desk is not a mark."""
    rng = np.random.default_rng(3)
    ink = number_ink(glyphs, "4096", gap=0.4)
    paper = np.full((ink.shape[0] + 80, ink.shape[1] + 120), 215.0) + rng.normal(
        0, 4, (ink.shape[0] + 80, ink.shape[1] + 120)
    )
    paper[40 : 40 + ink.shape[0], 60 : 60 + ink.shape[1]] -= ink * 0.7
    photo = np.full((paper.shape[0] + 60, paper.shape[1] + 60), float(desk)) + rng.normal(
        0, 6, (paper.shape[0] + 60, paper.shape[1] + 60)
    )
    photo[30 : 30 + paper.shape[0], 30 : 30 + paper.shape[1]] = paper
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).convert("RGB")
    assert _text(cnn, encode(image, "JPEG", quality=85)) == "4096"


def test_more_marks_than_a_reading_holds_is_refused():
    image = Image.new("L", (1200, 120), 255)
    for i in range(30):  # thirty 1s in a row: text, or a barcode, not a number
        ImageDraw.Draw(image).line([(20 + 38 * i, 20), (20 + 38 * i, 100)], fill=0, width=8)
    with pytest.raises(InvalidInput, match="at most 24"):
        marks_from_image(encode(image), 25_000_000)
