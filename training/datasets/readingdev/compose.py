"""Ink masks: handwritten digits (MNIST training split, scikit-learn's 8x8 scans), drawn marks, typed text.

An ink mask is a float32 array in [0, 1] (1 = full ink). A line is composed from pieces placed on a
common baseline; `line_mask` returns the mask together with the rows of the digit top and baseline so
that lines can be stacked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter, grey_dilation, grey_erosion

from training.datasets.mnist import load_mnist
from training.datasets.readingdev import strokes
from training.datasets.readingdev.fonts import font

DEFAULT_MNIST = "/work/shared/data/mnist"
SEPARATOR_CHARS = ".,-/:"


@dataclass(frozen=True)
class Sources:
    """Real handwritten digits: MNIST training images and scikit-learn's 8x8 digits, indexed by class."""

    mnist: np.ndarray
    mnist_by_digit: tuple[np.ndarray, ...]
    small: np.ndarray
    small_by_digit: tuple[np.ndarray, ...]


_MNIST_DIR: list[str | None] = [None]


def use_mnist_dir(path: str | None) -> None:
    """Where MNIST is read from (default: $MNIST_DIR, else /work/shared/data/mnist)."""
    _MNIST_DIR[0] = path


@cache
def sources() -> Sources:
    """Load both digit sources once. Only MNIST's training split is used."""
    from sklearn.datasets import load_digits

    chosen = _MNIST_DIR[0] or os.environ.get("MNIST_DIR") or DEFAULT_MNIST
    m = load_mnist(Path(chosen))
    digits = load_digits()
    return Sources(
        mnist=m.x_train,
        mnist_by_digit=tuple(np.flatnonzero(m.y_train == d) for d in range(10)),
        small=(digits.images / 16.0).astype(np.float32),
        small_by_digit=tuple(np.flatnonzero(digits.target == d) for d in range(10)),
    )


def resize(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float mask to (width, height), antialiased when shrinking."""
    w, h = max(1, int(size[0])), max(1, int(size[1]))
    if (w, h) == (mask.shape[1], mask.shape[0]):
        return mask
    method = Image.Resampling.BICUBIC if w >= mask.shape[1] else Image.Resampling.LANCZOS
    out = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((w, h), method))
    return np.clip(out, 0.0, 1.0)


def crop(mask: np.ndarray, level: float = 0.08) -> np.ndarray:
    """The mask cut to the bounding box of its ink."""
    rows = np.flatnonzero(mask.max(axis=1) > level)
    cols = np.flatnonzero(mask.max(axis=0) > level)
    if not len(rows):
        return mask[:1, :1] * 0
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def pen_curve(soft: np.ndarray, threshold: float, softness: float = 0.12) -> np.ndarray:
    """Turn a blurred stroke image into crisp ink; a lower threshold draws a thicker pen."""
    x = np.clip((soft - threshold) / (2 * softness) + 0.5, 0.0, 1.0)
    return (x * x * (3 - 2 * x)).astype(np.float32)


def thicken(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) the ink."""
    if pixels == 0:
        return mask
    k = abs(pixels) * 2 + 1
    if pixels > 0:
        return grey_dilation(np.pad(mask, pixels), size=(k, k))
    return grey_erosion(mask, size=(k, k))


def handwritten_digit(digit: int, height: int, rng: np.random.Generator, style: dict) -> np.ndarray:
    """One real handwritten digit as crisp ink `height` px tall (MNIST, or a scikit-learn 8x8 scan)."""
    src = sources()
    if style.get("small_scans"):
        pool = src.small_by_digit[digit]
        image = crop(src.small[pool[int(rng.integers(len(pool)))]], 0.15)
        cell = height / image.shape[0]
        blur = style.get("scan_blur", 0.3) * cell
    else:
        pool = src.mnist_by_digit[digit]
        image = crop(src.mnist[pool[int(rng.integers(len(pool)))]].astype(np.float32) / 255.0, 0.15)
        cell = height / image.shape[0]
        blur = 0.3 * cell
    image = np.pad(image, 1)
    size = (max(3, round(image.shape[1] * cell * style.get("aspect", 1.0))), round(image.shape[0] * cell))
    soft = resize(image, size)
    soft = gaussian_filter(soft, blur)
    ink = pen_curve(soft / max(soft.max(), 1e-3), style.get("threshold", 0.4))
    ink = thicken(ink, round(style.get("thicken", 0.0) * height))
    return crop(ink, 0.05)


def stroke_width(mask: np.ndarray) -> float:
    """The typical pen width of an ink mask (twice the area over the outline length)."""
    gy, gx = np.gradient(mask)
    outline = float(np.hypot(gx, gy).sum())
    return 2.0 * float(mask.sum()) / outline if outline > 0 else 1.0


@dataclass
class Piece:
    """A mask placed on a line: `top` is its first row relative to the digit top (0) with the baseline at h."""

    mask: np.ndarray
    top: float
    gap_before: float = 0.0  # px between bounding boxes (negative: the boxes overlap)
    clearance: float | None = None  # px between the inks themselves, nearest rows (negative: strokes cross)
    min_clearance: float | None = None  # the inks may not cross by more than this many px


def drawn_piece(char: str, height: int, pen: float, rng: np.random.Generator, wobble: float = 0.012) -> Piece:
    """A pen-drawn mark (separator, letter, symbol or digit) `height` px for a digit, with a pen `pen` px wide."""
    pen = float(np.clip(pen, 0.04 * height, 0.16 * height))
    _, glyph_strokes = strokes.glyph(char, rng)
    pieces = [p.copy() for p in glyph_strokes]
    if char == ".":
        r = rng.uniform(0.1, 0.45) * pen / height
        pieces = [strokes.dot(0.1, rng.uniform(0.93, 0.99), r)]
    elif char == ",":
        tail = rng.uniform(0.12, 0.3)
        pieces = [
            strokes.join(
                strokes.dot(0.12, 0.95, rng.uniform(0.1, 0.45) * pen / height),
                strokes.spline((0.12, 0.95), (0.13, 0.98 + tail / 3), (0.1, 0.96 + tail * 0.7), (0.04, 0.95 + tail)),
            )
        ]
    elif char == "-":
        y, length = rng.uniform(0.45, 0.62), rng.uniform(0.25, 0.5)
        pieces = [strokes.seg((0.03, y), (0.03 + length, y + rng.uniform(-0.05, 0.03)))]
    elif char == "/":
        lean, tall = rng.uniform(0.25, 0.5), rng.uniform(1.0, 1.25)
        pieces = [strokes.seg((0.0, 1.0 + (tall - 1) / 2), (lean, -(tall - 1) / 2))]
    elif char == ":":
        r = rng.uniform(0.05, 0.4) * pen / height
        pieces = [strokes.dot(0.1, rng.uniform(0.3, 0.5), r), strokes.dot(0.1 + rng.uniform(-0.03, 0.03), 0.95, r)]
    drawn = strokes.jitter(pieces, rng, wobble=wobble, slant=rng.uniform(-0.05, 0.15), rotate=rng.uniform(-3, 3))
    x0, y0, x1, y1 = strokes.bounds(drawn)
    pad = pen
    px = [(p - [x0, y0]) * height + pad for p in drawn]
    size = (int((x1 - x0) * height + 2 * pad) + 1, int((y1 - y0) * height + 2 * pad) + 1)
    mask = strokes.draw(px, size, pen, supersample=2)
    return Piece(mask, y0 * height - pad)


def typed_mask(text: str, font_path: Path, size: int) -> tuple[np.ndarray, float, float]:
    """Text in a font at `size` px: (mask cropped to the ink, row of the digit top, row of the baseline)."""
    face = font(font_path, size)
    ascent, descent = face.getmetrics()
    left, top, right, bottom = (int(v) for v in face.getbbox(text))
    pad = max(2, size // 4)
    image = Image.new("L", (right - left + 2 * pad, max(bottom, ascent + descent) - min(top, 0) + 2 * pad))
    origin = (pad - left, pad - min(top, 0))
    ImageDraw.Draw(image).text(origin, text, fill=255, font=face)
    digit_top = origin[1] + int(face.getbbox("0")[1])
    baseline = origin[1] + ascent
    mask = np.asarray(image, dtype=np.float32) / 255.0
    rows = np.flatnonzero(mask.max(axis=1) > 0.02)
    cols = np.flatnonzero(mask.max(axis=0) > 0.02)
    if not len(rows):
        return mask, float(digit_top), float(baseline)
    cut = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return cut, float(digit_top - rows[0]), float(baseline - rows[0])


def line_mask(pieces: list[Piece], height: int) -> tuple[np.ndarray, float, float]:
    """Place the pieces left to right on one line: (mask, digit-top row, baseline row)."""
    top = min(round(p.top) for p in pieces)
    bottom = max(round(p.top) + p.mask.shape[0] for p in pieces)
    right_ink = np.full(bottom - top, -np.inf)  # rightmost ink column of each row so far
    box_right = 0.0
    placed = []
    for index, piece in enumerate(pieces):
        row = round(piece.top) - top
        inked = piece.mask > 0.3
        has = inked.any(axis=1)
        left = np.where(has, inked.argmax(axis=1), np.inf)
        right = np.where(has, piece.mask.shape[1] - 1 - inked[:, ::-1].argmax(axis=1), -np.inf)
        previous = right_ink[row : row + piece.mask.shape[0]]
        common = np.isfinite(previous) & has
        touch = float(np.max(previous[common] - left[common])) + 1 if common.any() else None
        x = box_right + piece.gap_before
        if index and touch is not None:
            if piece.clearance is not None:
                x = touch + piece.clearance
            if piece.min_clearance is not None:
                x = max(x, touch + piece.min_clearance)
        x = 0.0 if not index else max(x, box_right - piece.mask.shape[1] * 0.6)
        placed.append((round(x), row, piece.mask))
        np.maximum(previous, round(x) + right, out=previous)
        box_right = max(box_right, round(x) + piece.mask.shape[1])
    left_edge = min(px for px, _, _ in placed)
    width = max(px + m.shape[1] for px, _, m in placed) - left_edge
    canvas = np.zeros((bottom - top, width), dtype=np.float32)
    for px, r, m in placed:
        region = canvas[r : r + m.shape[0], px - left_edge : px - left_edge + m.shape[1]]
        np.maximum(region, m, out=region)
    return canvas, float(-top), float(height - top)


def shear(mask: np.ndarray, amount: float) -> np.ndarray:
    """Slant the ink: the top moves right by `amount` times the height."""
    if abs(amount) < 1e-3:
        return mask
    h, w = mask.shape
    extra = abs(amount) * h
    width = int(w + extra) + 2
    offset = extra if amount > 0 else 0.0
    # output (x, y) reads input (x + amount * y - offset, y): the top row moves right by `amount * h`
    coeffs = (1.0, amount, -offset, 0.0, 1.0, 0.0)
    image = Image.fromarray(mask.astype(np.float32)).transform(
        (width, h), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR
    )
    return crop(np.clip(np.asarray(image), 0, 1), 0.02)


def rotate(mask: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate the ink anticlockwise by `degrees`, growing the mask to hold it."""
    if abs(degrees) < 0.05:
        return mask
    image = Image.fromarray(np.pad(mask, 2).astype(np.float32)).rotate(
        degrees, resample=Image.Resampling.BICUBIC, expand=True
    )
    return crop(np.clip(np.asarray(image), 0, 1), 0.02)


def stack_lines(lines: list[tuple[np.ndarray, float, float]], spacing: float, align: str, height: float) -> np.ndarray:
    """Stack line masks top to bottom, `spacing` digit heights between one baseline and the next digit top."""
    width = max(m.shape[1] for m, _, _ in lines)
    rows = []
    y = 0.0
    for index, (mask, top, base) in enumerate(lines):
        if index:
            y += spacing * height
        rows.append((round(y - top), mask))
        y += base - top
    first = min(r for r, _ in rows)
    last = max(r + m.shape[0] for r, m in rows)
    canvas = np.zeros((last - first, width), dtype=np.float32)
    for r, mask in rows:
        x = 0 if align == "left" else (width - mask.shape[1]) // 2
        region = canvas[r - first : r - first + mask.shape[0], x : x + mask.shape[1]]
        np.maximum(region, mask, out=region)
    return canvas
