"""Synthetic lines for the line reader (training/learn/linereader.py): what /read's line crops look like, with their
text.

A line is composed, as ink bright on dark, of MNIST **training** digits (the committed sets use the test digits),
separators drawn as a pen draws them (a dot, a comma's tail, a bar, a slash, a colon), glyphs of the training
fonts (training/datasets/typeset.py: never the fonts of the committed or development sets), and foreign marks (letters
and `$ % € # +` in those fonts, scribbles), which the reader writes as `?`. Then it is worn as a photo, a scan or a
canvas wears it (stroke width, blur, low resolution, specks, a faint underline, uneven strength), cropped to its
ink with a margin as service/reading/linecrop.py crops it, and scaled to LINE_HEIGHT.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from service.reading.imageops import Box, extent
from service.reading.linecrop import ALPHABET, batch_lines, line_image, to_line
from training.datasets.mnist import load_mnist
from training.datasets.typeset import DIGITS, fonts

FOREIGN = "abcdefhkmnprtuvwxyACEFHKMNPRTUVWXY$%#+€&@*="
CANVAS = 72  # composition height: digits drawn about 45 px tall, scaled down to LINE_HEIGHT at the end


def _number(rng: np.random.Generator) -> str:
    """A text a line may hold: a plain number, an amount, a date, a time, a fraction, sometimes a foreign mark."""
    digits = lambda n: "".join(rng.choice(list(DIGITS), n))  # noqa: E731
    kind = rng.choice(12)
    if kind <= 2:
        text = digits(int(rng.integers(1, 11)))
    elif kind == 3:
        text = f"{int(rng.integers(0, 10 ** int(rng.integers(1, 5))))}.{digits(int(rng.integers(1, 3)))}"
    elif kind == 4:
        groups = [str(int(rng.integers(1, 1000)))] + [digits(3) for _ in range(int(rng.integers(1, 3)))]
        text = ",".join(groups) + (f".{digits(2)}" if rng.random() < 0.5 else "")
    elif kind == 5:
        text = (
            "-"
            + str(int(rng.integers(0, 10 ** int(rng.integers(1, 5)))))
            + (f".{digits(int(rng.integers(1, 3)))}" if rng.random() < 0.6 else "")
        )
    elif kind == 6:
        y, m, d = int(rng.integers(1990, 2040)), int(rng.integers(1, 13)), int(rng.integers(1, 32))
        sep = str(rng.choice(["-", "/", "."]))
        pad = rng.random() < 0.7
        m_s, d_s = (f"{m:02d}", f"{d:02d}") if pad else (str(m), str(d))
        orders = [f"{y}{sep}{m_s}{sep}{d_s}", f"{d_s}{sep}{m_s}{sep}{y}", f"{m_s}{sep}{d_s}{sep}{y % 100:02d}"]
        text = rng.choice(orders)
    elif kind == 7:
        text = f"{int(rng.integers(0, 24))}:{int(rng.integers(0, 60)):02d}"
    elif kind == 8:
        text = f"{int(rng.integers(1, 100))}/{int(rng.integers(1, 100))}"
    elif kind == 9:
        text = f"{int(rng.integers(0, 10000))},{digits(int(rng.integers(1, 3)))}"
    else:  # a number beside foreign marks: $45, 12%, #5, A12, 12kg, 3+4
        core = digits(int(rng.integers(1, 6)))
        marks = "".join(rng.choice(list(FOREIGN), int(rng.integers(1, 3))))
        where = rng.choice(3)
        text = marks + core if where == 0 else core + marks if where == 1 else core[:1] + marks + core[1:]
    return str(text)


def label_of(text: str) -> str:
    """What the reader is taught to write for `text`: every foreign mark as "?"."""
    return "".join(c if c in ALPHABET else "?" for c in text)


@cache
def _digit_bank(mnist_dir: str | None) -> tuple[np.ndarray, ...]:
    data = load_mnist(mnist_dir)
    return tuple(data.x_train[data.y_train == d][:-300] for d in range(10))  # the last 300 of each: validation


def _tight(array: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(array > 40)
    return array[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] if len(rows) else array


def _pen_separator(char: str, height: int, pen: int, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """A separator drawn with a pen on a canvas as tall as the digits' band; with its width."""
    base = int(height * rng.uniform(0.9, 1.0))
    if char == "/":
        width = int(height * rng.uniform(0.3, 0.5))
    elif char == "-":
        width = int(height * rng.uniform(0.3, 0.6))
    else:
        width = int(pen * rng.uniform(1.6, 2.6))
    image = Image.new("L", (width + 2 * pen, height + pen * 3), 0)
    draw = ImageDraw.Draw(image)
    r = max(1.5, pen * rng.uniform(0.6, 1.1))
    cx = image.width / 2
    if char == ".":
        draw.ellipse((cx - r, base - 2 * r, cx + r, base), fill=255)
    elif char == ",":
        draw.ellipse((cx - r, base - 2 * r, cx + r, base), fill=255)
        draw.line((cx + r * 0.5, base - r, cx - r * 1.2, base + r * 2.5), fill=255, width=max(1, int(r)))
    elif char == ":":
        for y in (height * rng.uniform(0.3, 0.45), base - r):
            draw.ellipse((cx - r, y - r, cx + r, y + r), fill=255)
    elif char == "-":
        y = height * rng.uniform(0.45, 0.62)
        draw.line((pen, y, pen + width, y + rng.uniform(-2, 2)), fill=255, width=pen)
    elif char == "/":
        draw.line((pen + width, height * rng.uniform(0, 0.1), pen, base), fill=255, width=pen)
    return image, image.width


def _font_glyph(char: str, font: ImageFont.FreeTypeFont, height: int) -> tuple[Image.Image, int, int]:
    """`char` in `font` on a canvas from the font's ascent to its descent; with its advance and the baseline."""
    ascent, descent = font.getmetrics()
    advance = max(1, int(font.getlength(char)))
    image = Image.new("L", (advance + 4, ascent + descent), 0)
    ImageDraw.Draw(image).text((2, 0), char, fill=255, font=font)
    return image, advance, ascent


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _scribble(height: int, pen: int, rng: np.random.Generator) -> Image.Image:
    width = int(height * rng.uniform(0.4, 0.9))
    image = Image.new("L", (width + 2 * pen, height), 0)
    points = [(rng.uniform(pen, width + pen), rng.uniform(0, height)) for _ in range(int(rng.integers(3, 7)))]
    ImageDraw.Draw(image).line(points, fill=255, width=pen, joint="curve")
    return image


def _handwritten(text: str, rng: np.random.Generator, mnist_dir: str | None, font_paths) -> np.ndarray:
    bank = _digit_bank(mnist_dir)
    height = int(CANVAS * rng.uniform(0.55, 0.7))
    pen = max(2, int(height * rng.uniform(0.08, 0.14)))
    top = (CANVAS - height) // 3
    pieces: list[tuple[Image.Image, int, int]] = []  # image, its top, its width to advance
    for char in text:
        if char in DIGITS:
            source = bank[int(char)][int(rng.integers(len(bank[int(char)])))]
            glyph = Image.fromarray(_tight(source))
            h = int(height * rng.uniform(0.85, 1.05))
            w = max(3, int(glyph.width * h / glyph.height * rng.uniform(0.8, 1.2)))
            pieces.append((glyph.resize((w, h), Image.Resampling.BILINEAR), top + height - h, w))
        elif char in ALPHABET:
            image, width = _pen_separator(char, height, pen, rng)
            pieces.append((image, top, width))
        elif rng.random() < 0.5 and font_paths:
            font = _font(font_paths[int(rng.integers(len(font_paths)))], int(height * 1.25))
            image, advance, ascent = _font_glyph(char, font, height)
            image = image.filter(ImageFilter.MaxFilter(3)) if rng.random() < 0.5 else image
            pieces.append((image, top + height - ascent + int(height * 0.05), advance))
        else:
            image = _scribble(int(height * rng.uniform(0.5, 1.1)), pen, rng)
            pieces.append((image, top + height - image.height, image.width))
    gaps = rng.uniform(-0.22, 0.35, len(pieces)) * height * rng.uniform(0.3, 1.0)
    width = int(sum(w for _, _, w in pieces) + max(0, gaps.sum()) + 4 * height)
    canvas = np.zeros((CANVAS * 2, width), np.uint8)
    x = float(height)
    slope = rng.uniform(-0.06, 0.06)
    for (image, y, advance), gap in zip(pieces, gaps, strict=True):
        array = np.asarray(image)
        y0 = int(y + CANVAS // 2 + slope * x)
        x0 = int(x)
        h, w = array.shape
        if y0 < 0 or y0 + h > canvas.shape[0] or x0 + w > canvas.shape[1]:
            continue
        region = canvas[y0 : y0 + h, x0 : x0 + w]
        np.maximum(region, array, out=region)
        x += advance + gap
    return canvas


def _typed(text: str, rng: np.random.Generator, font_paths) -> np.ndarray:
    font = _font(font_paths[int(rng.integers(len(font_paths)))], int(rng.integers(40, 72)))
    spacing = rng.uniform(-0.02, 0.12) * font.size
    ascent, descent = font.getmetrics()
    width = int(sum(font.getlength(c) + spacing for c in text) + 2 * font.size)
    image = Image.new("L", (max(8, width), int(ascent + descent + font.size)), 0)
    draw = ImageDraw.Draw(image)
    x = font.size / 2
    for char in text:
        draw.text((x, font.size / 2), char, fill=255, font=font)
        x += font.getlength(char) + spacing
    array = np.asarray(image)
    if rng.random() < 0.2:  # bold, or printed heavy
        array = np.asarray(image.filter(ImageFilter.MaxFilter(3)))
    return array


def _worn(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ink as a photo, scan or canvas leaves it: width, blur, resolution, specks, strength, an underline."""
    image = Image.fromarray(array)
    if rng.random() < 0.15:
        image = image.filter(ImageFilter.MaxFilter(3))
    elif rng.random() < 0.1:
        image = image.filter(ImageFilter.MinFilter(3))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 2.0)))
    if rng.random() < 0.12:  # an underline or a ruled line under the text
        draw = ImageDraw.Draw(image)
        rows = np.nonzero(np.asarray(image).max(axis=1) > 60)[0]
        if len(rows):
            y = int(rows.max() + rng.integers(2, 10))
            draw.line((0, y, image.width, y), fill=int(rng.integers(80, 255)), width=int(rng.integers(1, 4)))
    out = np.asarray(image).astype(np.float32)
    if rng.random() < 0.25:
        count = int(rng.integers(1, 12))
        ys, xs = rng.integers(0, out.shape[0], count), rng.integers(0, out.shape[1], count)
        out[ys, xs] = rng.uniform(80, 255, count)
    out *= rng.uniform(0.5, 1.0)
    if rng.random() < 0.3:
        out += rng.normal(0, rng.uniform(1, 5), out.shape)
    return np.clip(out, 0, 255)


def composed(rng: np.random.Generator, mnist_dir: str | None) -> tuple[np.ndarray, str, Box | None]:
    """One line as drawn and worn (ink bright on dark, float32 in [0, 255], at its drawn size), its text, and the
    box of its characters' own ink (None when it has none): what training/datasets/charsynth.py sends /read's layout."""
    text = _number(rng)
    typed_fonts = fonts(DIGITS + ".,-/:")
    foreign_fonts = fonts(DIGITS + ".,-/:" + FOREIGN)
    style = rng.random()
    if style < 0.55:
        array = _handwritten(text, rng, mnist_dir, foreign_fonts)
    else:
        text_fonts = foreign_fonts if any(c not in ALPHABET for c in text) else typed_fonts
        array = _typed(text, rng, text_fonts)
    # The box /read's layout would give the line: its characters' own ink, before wear adds specks or an underline
    # (which then show only where they fall inside the crop, as they do in service); a little off, as boxes are.
    box = extent(array > 40)
    worn = _worn(array, rng)
    if rng.random() < 0.15:  # low resolution: a scan (blocky when enlarged again), a small photo
        rows = np.nonzero(worn.max(axis=1) > 30)[0]
        ink_height = max(1, int(rows.max() - rows.min() + 1)) if len(rows) else worn.shape[0]
        factor = rng.uniform(7, 14) / ink_height
        small = Image.fromarray(worn.astype(np.uint8)).resize(
            (max(2, int(worn.shape[1] * factor)), max(2, int(worn.shape[0] * factor))), Image.Resampling.BOX
        )
        enlarge = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BILINEAR
        worn = np.asarray(small.resize((worn.shape[1], worn.shape[0]), enlarge)).astype(np.float32)
    return worn, text, box


def synth_line(rng: np.random.Generator, mnist_dir: str | None) -> tuple[np.ndarray, str]:
    """One line crop as the reader sees it (LINE_HEIGHT x width, float32 in [0, 1]) and the label it should read."""
    worn, text, box = composed(rng, mnist_dir)
    if box is None:
        return to_line(worn, margin=rng.uniform(0.08, 0.3)), label_of(text)
    off = rng.uniform(-0.08, 0.08, 4) * box.height
    box = Box(
        max(0, int(box.top + off[0])),
        min(worn.shape[0], int(box.bottom + off[1])),
        max(0, int(box.left + off[2])),
        min(worn.shape[1], int(box.right + off[3])),
    )
    line = line_image(worn, box)
    return line, label_of(text)


def batch(rng: np.random.Generator, mnist_dir: str | None, size: int) -> tuple[np.ndarray, list[str]]:
    """`size` lines padded on the right to one width (a multiple of 4), and their labels."""
    lines, labels = zip(*(synth_line(rng, mnist_dir) for _ in range(size)), strict=True)
    return batch_lines(list(lines)), list(labels)


def bucketed(
    rng: np.random.Generator, mnist_dir: str | None, size: int, count: int
) -> list[tuple[np.ndarray, list[str]]]:
    """`count` batches of `size` lines, the lines sorted by width first so that a batch pads little; in random order."""
    made = sorted((synth_line(rng, mnist_dir) for _ in range(size * count)), key=lambda pair: pair[0].shape[1])
    groups = [made[i : i + size] for i in range(0, len(made), size)]
    return [
        (batch_lines([line for line, _ in groups[i]]), [label for _, label in groups[i]])
        for i in rng.permutation(count)
    ]
