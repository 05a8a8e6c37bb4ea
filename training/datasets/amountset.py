"""The amounts evaluation set for `POST /read`, made from a seed: `python -m training dataset amounts`.

Three subsets of 100 images, each one line of text; the kind of text (amount, date, time, negative) drawn evenly
at random per image:
- amount:   12.50, 0.25, 7.5, 1,000, 12,345, 1,234.56, and the continental 12,50 and 1.234,56.
- date:     2026-12-02, 02/12/2026, 12/31/2026, 31.12.2026, 02/12/26, 12/31, 2/7 (real calendar days).
- time:     10:45, 23:59, 9:05, and now and then 14:05:33.
- negative: -7, -0.5, -12.5, -1,200.
The subsets:
- handwritten: MNIST **test** digits at one pen size, dark on white (PNG), as training/datasets/numberset.py writes
               them; the separators drawn as pen strokes in the digits' ink and thickness (the pen measured from the
               digits), sized and placed as people write them relative to the digits' height h: a dot a round
               blob of 0.1-0.2 h on the baseline, a comma a blob with a short tail below the baseline, a minus a
               bar 0.3-0.5 h wide at mid-height, a slash a leaning stroke as tall as the digits, a colon two dots
               at about 1/3 and 2/3 of the height; each jittered a little.
- typed:       the same kinds of text typed in the DejaVu and Liberation families at many sizes, dark on light or
               light on dark, turned a little (PNG), as training/datasets/numberset.py types them.
- foreign:     a number with one or more marks that make it not a number: $45, €20, £9.99, 12%, #5, A12, 4C,
               12a4, 7x3, 12kg, 30cm, 3+4. Even indexes handwritten (MNIST digits, the letters and symbols drawn
               as pen strokes in the same ink), odd indexes typed. The reader must say is_number false.
`eval/amounts/<subset>/<index>.png` with labels.json ({"<subset>/<index>.png": text}, the text exactly as written,
no spaces) and MANIFEST.sha256 (covering labels.json too) is committed, so evaluating needs neither the MNIST files
nor the fonts. Every image is a pure function of (seed, subset, index).
"""

from __future__ import annotations

import calendar
import functools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.datasets import evalset, numberset

SUBSETS = ("handwritten", "typed", "foreign")
PER_SUBSET = 100
KINDS = ("amount", "date", "time", "negative")
SEPARATORS = ".,-/:"
SET_ID = 1  # the first word of every image's seed, so this set's streams are its own
SUPERSAMPLE = 8
GAP = (0.05, 0.35)  # between neighbouring marks, in digit heights

Point = tuple[float, float]
# A mark in digit-height units (x right, y down; y = 0 the top of the digits, y = 1 their baseline): its pen
# strokes (each a list of points) and its blobs (centre x, centre y, diameter).
Mark = tuple[list[list[Point]], list[tuple[float, float, float]]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, steps: int = 14) -> list[Point]:
    """Points on an ellipse from angle `start` to `end` (degrees; 0 right, 90 down, -90 up)."""
    return [
        (cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
        for a in np.linspace(start, end, steps)
    ]


# The letters and symbols of the foreign subset as pen paths: capitals and digits 1 tall, lowercase 0.5.
SYMBOLS: dict[str, list[list[Point]]] = {
    "$": [_arc(0.3, 0.3, 0.24, 0.2, -30, -270) + _arc(0.3, 0.7, 0.24, 0.2, -90, 150)[1:], [(0.32, -0.1), (0.3, 1.1)]],
    "%": [_arc(0.16, 0.2, 0.15, 0.2, 0, 360), [(0.05, 1.0), (0.7, 0.0)], _arc(0.58, 0.8, 0.15, 0.2, 0, 360)],
    "€": [_arc(0.42, 0.5, 0.34, 0.5, -50, -310, 20), [(0.0, 0.42), (0.45, 0.42)], [(0.0, 0.6), (0.42, 0.6)]],
    "£": [
        [*_arc(0.42, 0.2, 0.17, 0.18, 0, -180), (0.25, 0.5), (0.22, 0.78), (0.05, 1.0), (0.3, 0.93), (0.65, 0.98)],
        [(0.03, 0.55), (0.45, 0.55)],
    ],
    "#": [
        [(0.28, 0.05), (0.16, 0.98)],
        [(0.58, 0.05), (0.46, 0.98)],
        [(0.0, 0.34), (0.72, 0.34)],
        [(-0.04, 0.68), (0.66, 0.68)],
    ],
    "+": [[(0.27, 0.24), (0.27, 0.78)], [(0.0, 0.52), (0.54, 0.52)]],
    "x": [[(0.0, 0.5), (0.4, 1.0)], [(0.4, 0.5), (0.0, 1.0)]],
    "A": [[(0.0, 1.0), (0.3, 0.0), (0.6, 1.0)], [(0.13, 0.62), (0.48, 0.62)]],
    "C": [_arc(0.36, 0.5, 0.36, 0.5, -45, -315, 20)],
    "E": [[(0.5, 0.0), (0.0, 0.0), (0.0, 1.0), (0.52, 1.0)], [(0.0, 0.5), (0.4, 0.5)]],
    "F": [[(0.5, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.4, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(0.5, 0.0), (0.5, 1.0)], [(0.0, 0.5), (0.5, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(0.5, 0.0), (0.02, 0.58)], [(0.15, 0.45), (0.52, 1.0)]],
    "M": [[(0.0, 1.0), (0.06, 0.0), (0.36, 0.62), (0.66, 0.0), (0.72, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (0.52, 1.0), (0.52, 0.0)]],
    "P": [[(0.0, 1.0), (0.0, 0.0), (0.3, 0.0), (0.46, 0.1), (0.48, 0.38), (0.3, 0.5), (0.0, 0.5)]],
    "R": [
        [(0.0, 1.0), (0.0, 0.0), (0.3, 0.0), (0.46, 0.1), (0.48, 0.38), (0.3, 0.5), (0.0, 0.5)],
        [(0.2, 0.5), (0.52, 1.0)],
    ],
    "T": [[(0.0, 0.0), (0.62, 0.0)], [(0.31, 0.0), (0.31, 1.0)]],
    "X": [[(0.0, 0.0), (0.56, 1.0)], [(0.56, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.28, 0.5), (0.56, 0.0)], [(0.28, 0.5), (0.28, 1.0)]],
    "a": [_arc(0.2, 0.76, 0.19, 0.23, -20, -380, 18), [(0.39, 0.52), (0.39, 0.96), (0.44, 1.0)]],
    "c": [_arc(0.21, 0.75, 0.21, 0.25, -40, -320)],
    "d": [_arc(0.2, 0.76, 0.19, 0.23, -20, -380, 18), [(0.39, 0.0), (0.39, 0.96), (0.44, 1.0)]],
    "e": [[(0.02, 0.76), (0.41, 0.76), *_arc(0.21, 0.76, 0.2, 0.24, 0, -310)[1:]]],
    "g": [
        _arc(0.2, 0.72, 0.19, 0.22, -20, -380, 18),
        [(0.39, 0.5), (0.39, 1.2), (0.28, 1.34), (0.12, 1.34), (0.02, 1.24)],
    ],
    "h": [[(0.0, 0.0), (0.0, 1.0)], [(0.0, 0.66), (0.1, 0.53), (0.26, 0.51), (0.35, 0.6), (0.36, 1.0)]],
    "k": [[(0.0, 0.0), (0.0, 1.0)], [(0.36, 0.48), (0.02, 0.76)], [(0.1, 0.7), (0.4, 1.0)]],
    "m": [
        [(0.0, 0.5), (0.0, 1.0)],
        [(0.0, 0.64), (0.08, 0.52), (0.2, 0.52), (0.28, 0.6), (0.3, 1.0)],
        [(0.3, 0.64), (0.38, 0.52), (0.5, 0.52), (0.58, 0.6), (0.6, 1.0)],
    ],
    "n": [[(0.0, 0.5), (0.0, 1.0)], [(0.0, 0.66), (0.1, 0.53), (0.26, 0.51), (0.35, 0.6), (0.36, 1.0)]],
    "r": [[(0.0, 0.5), (0.0, 1.0)], [(0.0, 0.7), (0.1, 0.55), (0.3, 0.5)]],
}
LETTERS = "ACEFHKMNPRTXYacdehkmnr"  # none of them easily taken for a digit (no O, l, I, S, Z, B, G, b, g, q)
CURRENCIES = "$€£"
UNITS = ("kg", "km", "cm", "mm", "m", "h")


# The texts.


def _digits(rng: np.random.Generator, count: int, lead: bool = True) -> str:
    """`count` digits, the first not 0 when `lead`."""
    first = str(int(rng.integers(1, 10))) if lead else str(int(rng.integers(0, 10)))
    return first + "".join(str(d) for d in rng.integers(0, 10, count - 1))


def _integer(rng: np.random.Generator, most: int) -> str:
    """A whole number of 1 to `most` digits (0 now and then), without leading zeros."""
    return "0" if rng.random() < 0.1 else _digits(rng, int(rng.integers(1, most + 1)))


def _grouped(rng: np.random.Generator, mark: str, most: int = 6) -> str:
    """A whole number of 4 to `most` digits in groups of three: 1,000, 12,345, 250,000."""
    digits = _digits(rng, int(rng.integers(4, most + 1)))
    if rng.random() < 0.3:  # a round amount
        digits = digits[: len(digits) - 3] + "000"
    head = len(digits) % 3 or 3
    return mark.join([digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)])


def amount_text(rng: np.random.Generator) -> str:
    form = int(rng.integers(6))
    if form == 0:
        return f"{_integer(rng, 3)}.{_digits(rng, 2, lead=False)}"  # 12.50, 0.25
    if form == 1:
        return f"{_integer(rng, 2)}.{rng.integers(1, 10)}"  # 7.5
    if form == 2:
        return _grouped(rng, ",")  # 1,000
    if form == 3:
        return f"{_grouped(rng, ',')}.{_digits(rng, 2, lead=False)}"  # 1,234.56
    if form == 4:
        return f"{_integer(rng, 3)},{_digits(rng, 2, lead=False)}"  # 12,50
    return f"{_grouped(rng, '.')},{_digits(rng, 2, lead=False)}"  # 1.234,56


# The ways a date is written: ISO, day first, month first, dotted, a two-digit year, no year, no leading zeros.
DATE_FORMS = (
    "{year}-{month:02d}-{day:02d}",
    "{day:02d}/{month:02d}/{year}",
    "{month:02d}/{day:02d}/{year}",
    "{day:02d}.{month:02d}.{year}",
    "{day:02d}/{month:02d}/{yy:02d}",
    "{month:02d}/{day:02d}",
    "{day}/{month}",
)


def date_text(rng: np.random.Generator) -> str:
    year, month = int(rng.integers(1990, 2036)), int(rng.integers(1, 13))
    day = int(rng.integers(1, calendar.monthrange(year, month)[1] + 1))
    form = DATE_FORMS[int(rng.integers(len(DATE_FORMS)))]
    return form.format(year=year, month=month, day=day, yy=year % 100)


def time_text(rng: np.random.Generator) -> str:
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    text = f"{hour:02d}:{minute:02d}" if rng.random() < 0.7 or hour >= 10 else f"{hour}:{minute:02d}"
    return text + f":{rng.integers(0, 60):02d}" if rng.random() < 0.15 else text


def negative_text(rng: np.random.Generator) -> str:
    form = int(rng.choice(4, p=[0.35, 0.15, 0.3, 0.2]))
    if form == 0:
        return "-" + _digits(rng, int(rng.integers(1, 5)))  # -7, -250
    if form == 1:
        return f"-0.{rng.integers(1, 10)}{rng.integers(0, 10) if rng.random() < 0.5 else ''}"  # -0.5, -0.25
    if form == 2:
        return f"-{_digits(rng, int(rng.integers(1, 4)))}.{_digits(rng, int(rng.integers(1, 3)), lead=False)}"  # -12.5
    return "-" + _grouped(rng, ",", 5)  # -1,200


TEXTS = {"amount": amount_text, "date": date_text, "time": time_text, "negative": negative_text}


def number_text(rng: np.random.Generator) -> tuple[str, str]:
    """A kind drawn evenly and a text of that kind: (kind, text); at most 8 digits."""
    kind = KINDS[int(rng.integers(len(KINDS)))]
    return kind, TEXTS[kind](rng)


def foreign_text(rng: np.random.Generator) -> str:
    """A number with one or more marks that are neither digits nor separators."""
    form = int(rng.integers(8))
    letter = LETTERS[int(rng.integers(len(LETTERS)))]
    if form == 0:
        amount = _integer(rng, 3) if rng.random() < 0.5 else f"{_integer(rng, 3)}.{_digits(rng, 2, lead=False)}"
        return CURRENCIES[int(rng.integers(3))] + amount  # $45, £9.99
    if form == 1:
        return _integer(rng, 2) + (f".{rng.integers(1, 10)}" if rng.random() < 0.3 else "") + "%"  # 12%, 7.5%
    if form == 2:
        return "#" + _digits(rng, int(rng.integers(1, 4)))  # #5
    if form == 3:
        digits = _digits(rng, int(rng.integers(1, 5)))
        capital = letter.upper() if letter.upper() in LETTERS else "A"
        return capital + digits if rng.random() < 0.6 else digits + capital  # A12, 4C
    if form == 4:
        digits = _digits(rng, int(rng.integers(2, 6)))
        at = int(rng.integers(1, len(digits)))
        return digits[:at] + letter + digits[at:]  # 12a4
    if form == 5:
        return f"{rng.integers(1, 13)}x{rng.integers(1, 13)}"  # 7x3
    if form == 6:
        return _integer(rng, 3) + UNITS[int(rng.integers(len(UNITS)))]  # 12kg
    return f"{rng.integers(1, 100)}+{rng.integers(1, 100)}"  # 3+4


# Handwriting: MNIST digits and pen-stroke marks in one ink.


def _stroke_width(glyph: np.ndarray) -> float:
    """A glyph's stroke width in pixels: twice its ink over its edge length (the total variation)."""
    ink = glyph / 255
    gy, gx = np.gradient(ink)
    return float(2 * ink.sum() / max(np.hypot(gx, gy).sum(), 1e-6))


def separator(char: str, rng: np.random.Generator, pen: float) -> Mark:
    """A separator as a person writes it, `pen` the pen's width; all in digit heights."""
    dot = max(float(rng.uniform(0.1, 0.2)), pen * float(rng.uniform(1.0, 1.3)))
    if char == ".":
        return [], [(0.0, 1 - dot / 2 + float(rng.normal(0, 0.02)), dot)]
    if char == ",":
        y = 1 - dot / 2 + float(rng.normal(0, 0.02))
        drop, lean = float(rng.uniform(0.16, 0.3)), float(rng.uniform(0.05, 0.14))
        tail = [
            (dot * 0.3, y),
            (dot * 0.35, y + drop * 0.45),
            (dot * 0.1 - lean * 0.5, y + drop * 0.8),
            (-lean, y + drop),
        ]
        return [tail], [(0.0, y, dot)]
    if char == "-":
        length, y = float(rng.uniform(0.3, 0.5)), float(rng.uniform(0.45, 0.58))
        tilt = length / 2 * math.tan(math.radians(float(rng.uniform(-5, 5))))
        bow = float(rng.normal(0, 0.015))
        return [[(0.0, y + tilt), (length / 2, y + bow), (length, y - tilt)]], []
    if char == "/":
        tall, lean = float(rng.uniform(1.0, 1.15)), float(rng.uniform(0.5, 0.75))  # 25-35 degrees, more than a 1
        bottom = 1 + float(rng.uniform(0, 0.08))
        bow = float(rng.normal(0, 0.02))
        return [[(0.0, bottom), (lean / 2 + bow, bottom - tall / 2), (lean, bottom - tall)]], []
    if char == ":":
        upper, lower = float(rng.uniform(0.3, 0.4)), float(rng.uniform(0.64, 0.74))
        return [], [(float(rng.normal(0, 0.02)), upper, dot), (0.0, lower, dot * float(rng.uniform(0.9, 1.1)))]
    raise ValueError(char)


def symbol(char: str, rng: np.random.Generator) -> Mark:
    """A letter or symbol's pen path, jittered, slanted and scaled a little; in digit heights."""
    shear, angle = float(rng.uniform(-0.15, 0.08)), math.radians(float(rng.uniform(-5, 5)))
    scale_x, scale_y = float(rng.uniform(0.85, 1.1)), float(rng.uniform(0.88, 1.02))
    strokes = []
    for stroke in SYMBOLS[char]:
        points = []
        for x, y in stroke:
            x, y = x + float(rng.normal(0, 0.012)), y + float(rng.normal(0, 0.012))
            x, y = (x + shear * (y - 0.5)) * scale_x, 1 - (1 - y) * scale_y
            dx, dy = x, y - 0.5
            points.append(
                (dx * math.cos(angle) - dy * math.sin(angle), 0.5 + dx * math.sin(angle) + dy * math.cos(angle))
            )
        strokes.append(points)
    return strokes, []


def _extent(mark: Mark, pen: float) -> tuple[float, float, float, float]:
    """The mark's ink box (left, top, right, bottom) in digit heights."""
    strokes, dots = mark
    boxes = [(x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2) for stroke in strokes for x, y in stroke]
    boxes += [(x - d / 2, y - d / 2, x + d / 2, y + d / 2) for x, y, d in dots]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _drawn(mark: Mark, pen: float, low: float, scale: float, top: float, bottom: float, height: int) -> np.ndarray:
    """The mark drawn at MNIST's size (digits `low` px tall) and enlarged by `scale` as the digits are, so it is
    in their ink; `height` px tall from `top` above the digits to `bottom` below them; ink 255 on 0."""
    left, _, right, _ = _extent(mark, pen)
    width = math.ceil((right - left) * low) + 2
    rows = max(1, round((1 + top + bottom) * low))
    across, down = low * SUPERSAMPLE, rows / (1 + top + bottom) * SUPERSAMPLE  # px per digit height
    layer = Image.new("L", (width * SUPERSAMPLE, rows * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(layer)
    strokes, dots = mark
    radius = pen * across / 2
    for stroke in strokes:
        points = [((x - left) * across + SUPERSAMPLE, (y + top) * down) for x, y in stroke]
        draw.line(points, fill=255, width=max(1, round(pen * across)), joint="curve")
        for px, py in (points[0], points[-1]):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    for x, y, d in dots:
        px, py, r = (x - left) * across + SUPERSAMPLE, (y + top) * down, d * across / 2
        draw.ellipse((px - r, py - r * 0.95, px + r, py + r * 0.95), fill=255)
    small = layer.resize((width, rows), Image.Resampling.BOX)
    big = np.asarray(small.resize((max(1, round(width * scale)), height), Image.Resampling.BICUBIC), dtype=np.float32)
    columns = np.flatnonzero((big > 0).any(axis=0))
    return big[:, columns[0] : columns[-1] + 1]


def handwritten(
    text: str, rng: np.random.Generator, mnist: tuple[np.ndarray, np.ndarray], scale: float, margin: int
) -> np.ndarray:
    """`text` handwritten on one line (numberset.compose): MNIST test digits enlarged by `scale`, the other marks
    drawn in the same pen; ink 255 on 0."""
    digits = [c for c in text if c.isdigit()]
    glyphs = iter(numberset._mnist_glyphs("".join(digits), rng, mnist, scale))
    digit_glyphs = [next(glyphs) for _ in digits]
    tall = max(g.shape[0] for g in digit_glyphs)  # the digits' height h, px
    low = tall / scale  # h at MNIST's size
    pen = float(np.clip(1.05 * np.mean([_stroke_width(g) for g in digit_glyphs]) / scale, 1.6, 4.5)) / low
    marks = {
        i: (separator(c, rng, pen) if c in SEPARATORS else symbol(c, rng))
        for i, c in enumerate(text)
        if not c.isdigit()
    }
    extents = [_extent(mark, pen) for mark in marks.values()]
    top = max([0.0] + [-e[1] for e in extents])
    bottom = max([0.0] + [e[3] - 1 for e in extents])
    height = round((1 + top + bottom) * tall)
    placed = []
    digit_iter = iter(digit_glyphs)
    for i, char in enumerate(text):
        if char.isdigit():
            glyph = next(digit_iter)
            band = np.zeros((height, glyph.shape[1]), dtype=np.float32)
            y = round(top * tall) + (tall - glyph.shape[0]) // 2
            band[y : y + glyph.shape[0]] = glyph[: height - y]
            placed.append(band)
        else:
            placed.append(_drawn(marks[i], pen, low, scale, top, bottom, height))
    return numberset.compose(placed, rng, (GAP[0] * tall / height, GAP[1] * tall / height), margin)


# The fonts.


@functools.cache
def _has(font_file: Path, char: str) -> bool:
    """Whether the font draws `char` as itself rather than as its missing-glyph box."""
    font = ImageFont.truetype(str(font_file), size=32)

    def drawn(c: str) -> bytes:
        image = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(image).text((8, 8), c, font=font, fill=255)
        return image.tobytes()

    return drawn(char) != drawn("\U0010fffd")


def covering(font_files: list[Path], text: str) -> list[Path]:
    """The fonts that have every character of `text`."""
    return [f for f in font_files if all(_has(f, c) for c in set(text))]


def make(
    subset: str,
    text: str,
    rng: np.random.Generator,
    mnist: tuple[np.ndarray, np.ndarray],
    font_files: list[Path],
    index: int,
) -> bytes:
    """One PNG of `text` for `subset` (image number `index`: the foreign subset handwrites the even ones)."""
    if subset == "handwritten" or (subset == "foreign" and index % 2 == 0):
        ink = handwritten(text, rng, mnist, float(rng.uniform(1.2, 3.5)), 12)
        return evalset._encode(numberset._gray(ink), "PNG")
    if subset in ("typed", "foreign"):
        data, _ = numberset.make("typed", text, rng, mnist, covering(font_files, text))
        return data
    raise ValueError(subset)


def text_for(subset: str, rng: np.random.Generator) -> str:
    """The text of one image of `subset`."""
    return foreign_text(rng) if subset == "foreign" else number_text(rng)[1]


def write_labelled(
    out: Path,
    subsets: tuple[str, ...],
    rngs: Callable[[int, int], np.random.Generator],
    image: Callable[[str, np.random.Generator, int], tuple[str, bytes]],
    per_subset: int,
) -> int:
    """Write a labelled reading set: `per_subset` images of each subset, each made by `image(subset, rng, index)`
    as (its text, its PNG) from `rngs(subset_index, index)`, with labels.json and MANIFEST.sha256."""

    def files() -> Iterator[tuple[str, bytes]]:
        labels = {}
        for subset_index, subset in enumerate(subsets):
            for index in range(per_subset):
                text, data = image(subset, rngs(subset_index, index), index)
                name = f"{subset}/{index:04d}.png"
                labels[name] = text
                yield name, data
        yield "labels.json", (json.dumps(labels, indent=1, ensure_ascii=False) + "\n").encode()

    return evalset.write_set(out, files())


def build(out: Path, mnist: tuple[np.ndarray, np.ndarray], seed: int = 0, per_subset: int = PER_SUBSET) -> int:
    """Write every subset under `out` with labels.json and MANIFEST.sha256; returns the number of files."""
    font_files = evalset.fonts()

    def image(subset: str, rng: np.random.Generator, index: int) -> tuple[str, bytes]:
        text = text_for(subset, rng)
        return text, make(subset, text, rng, mnist, font_files, index)

    return write_labelled(out, SUBSETS, lambda s, i: np.random.default_rng([SET_ID, seed, s, i]), image, per_subset)


def load_labelled(
    folder: Path, subsets: tuple[str, ...], per_subset: int | None = None
) -> list[tuple[str, str, bytes]]:
    """(subset, text, encoded bytes) for a set with labels.json; `per_subset` takes the first that many of each."""
    labels: dict[str, str] = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    items = []
    for subset in subsets:
        names = sorted(name for name in labels if name.split("/", 1)[0] == subset)[:per_subset]
        items += [(subset, labels[name], (folder / name).read_bytes()) for name in names]
    return items


def load(folder: Path, per_subset: int | None = None) -> list[tuple[str, str, bytes]]:
    """(subset, text, encoded bytes) for the committed set; `per_subset` takes the first that many of each."""
    return load_labelled(folder, SUBSETS, per_subset)


def main(argv: list[str] | None = None) -> int:
    return numberset.command_line("amounts", __doc__, "eval/amounts", build, argv)
