"""Real handwriting, sent the ways people send it: MNIST digits rendered as users' images.

The synthetic set (training/datasets/evalset.py) is drawn and typed by this project's own hands, so preprocessing
tuned on it rewards whatever it happens to contain. This is the other yardstick: real handwriting (MNIST's
10,000 test digits, which no model here was trained on), each digit rendered once in every way below, each
rendering a subset of its own:

- as-is:          the digit as it is, dark ink on white, 28x28 PNG.
- tight-x1/x4/x10: cropped to its ink (pixels > 30) with no margin, at its own size, x4 bilinear, x10 bicubic;
                  the digit touches the frame (a form field's crop, a digit cut out by another program).
- scan-8/12/16:   a low-resolution scan: box-reduced to 8, 12 or 16 px and enlarged again with bilinear or
                  bicubic blur (16: JPEG too).
- bold, thin:     a bold pen (3x3 dilation) or a thin one (erosion at x4), enlarged, blurred.
- small-in-frame: 18-40 px tall, off centre in a 320x240 white frame.
- light-on-dark:  light ink on a dark background, x3, on grey levels of its own.
- paper-photo:    dark ink photographed on paper: tinted paper, grain, uneven light, blur, JPEG.
- canvas:         drawn on a transparent canvas (PNG with alpha) as the drawing page sends it, 280x280.
- rotated:        turned by up to 15 degrees either way, x3.
- tight-scan:     tightly cropped, scanned at 10 px, enlarged x6, JPEG.
- rotated-bold-tight: turned, bold, tightly cropped, x4, blurred.
- paper-tight:    a phone photo zoomed onto the digit: tightly cropped with a little margin, on paper, JPEG.

Every image is a pure function of (seed, rendering, digit index), so a sample is the same images as the
whole set. The development set is the same renderings of MNIST *training* digits from another seed (the
models know those digits, so its errors are the preprocessing's); tune there, report here.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

Render = Callable[[np.ndarray, np.random.Generator], bytes]


def _encode(image: Image.Image, fmt: str = "PNG", quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _paper_white(digit: np.ndarray) -> Image.Image:
    """MNIST's light-on-black as dark ink on white."""
    return Image.fromarray(255 - digit)


def tight(digit: np.ndarray, threshold: float = 30) -> np.ndarray:
    """Cropped to the pixels above `threshold`, with no margin."""
    rows, cols = np.flatnonzero((digit > threshold).any(axis=1)), np.flatnonzero((digit > threshold).any(axis=0))
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def scaled(image: Image.Image, factor: float, resample: Image.Resampling) -> Image.Image:
    """`image` resized by `factor`, each side at least 1 px."""
    return image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))), resample)


def _scan(digit: np.ndarray, low: int, high: int, resample: Image.Resampling) -> Image.Image:
    small = _paper_white(digit).resize((low, low), Image.Resampling.BOX)
    return small.resize((high, high), resample)


def _bold(digit: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).filter(ImageFilter.MaxFilter(3)))


def _rotated(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    turned = Image.fromarray(digit).rotate(float(rng.uniform(-15, 15)), Image.Resampling.BICUBIC, expand=True)
    return np.asarray(turned)


def _on_paper(ink: Image.Image, rng: np.random.Generator, size: tuple[int, int], position: tuple[int, int]):
    """`ink` (L, 255 = ink) photographed on paper of `size` at `position`: tint, light, grain, blur (RGB)."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.float32)
    left, top = position
    patch = np.asarray(ink, dtype=np.float32)[: height - top, : width - left] / 255
    mask[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    y, x = np.mgrid[0:height, 0:width]
    direction = rng.uniform(0, 2 * np.pi)
    light = rng.uniform(10, 35) * (np.cos(direction) * x / width + np.sin(direction) * y / height - 0.5)
    paper = rng.uniform(185, 235) + rng.uniform(-12, 12, 3) + light[..., None]
    ink_colour = rng.uniform(20, 90) + rng.uniform(-15, 15, 3)
    pixels = paper * (1 - mask[..., None]) + ink_colour * mask[..., None]
    pixels += rng.normal(0, rng.uniform(2, 6), pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))


def as_is(digit, rng):
    return _encode(_paper_white(digit))


def tight_x1(digit, rng):
    return _encode(_paper_white(tight(digit)))


def tight_x4(digit, rng):
    return _encode(scaled(_paper_white(tight(digit)), 4, Image.Resampling.BILINEAR))


def tight_x10(digit, rng):
    return _encode(scaled(_paper_white(tight(digit)), 10, Image.Resampling.BICUBIC))


def scan_8(digit, rng):
    return _encode(_scan(digit, 8, 64, Image.Resampling.BILINEAR))


def scan_12(digit, rng):
    return _encode(_scan(digit, 12, 96, Image.Resampling.BICUBIC))


def scan_16(digit, rng):
    return _encode(_scan(digit, 16, 128, Image.Resampling.BILINEAR), "JPEG", int(rng.integers(70, 95)))


def bold(digit, rng):
    big = scaled(_paper_white(_bold(digit)), 4, Image.Resampling.BILINEAR)
    return _encode(big.filter(ImageFilter.GaussianBlur(2)))


def thin(digit, rng):
    big = scaled(Image.fromarray(digit), 4, Image.Resampling.BILINEAR).filter(ImageFilter.MinFilter(5))
    return _encode(Image.fromarray(255 - np.asarray(big)).filter(ImageFilter.GaussianBlur(1)))


def small_in_frame(digit, rng):
    side = int(rng.integers(18, 41))
    glyph = scaled(Image.fromarray(digit), side / 28, Image.Resampling.BILINEAR)
    frame = Image.new("L", (320, 240), 0)
    frame.paste(glyph, (int(rng.integers(4, 320 - side - 4)), int(rng.integers(4, 240 - side - 4))))
    return _encode(Image.fromarray(255 - np.asarray(frame)))


def light_on_dark(digit, rng):
    ground, ink = rng.uniform(0, 60), rng.uniform(190, 255)
    big = np.asarray(scaled(Image.fromarray(digit), 3, Image.Resampling.BICUBIC), dtype=np.float32) / 255
    return _encode(Image.fromarray(np.clip(ground + (ink - ground) * big, 0, 255).astype(np.uint8)))


def paper_photo(digit, rng):
    side = int(rng.integers(120, 260))
    glyph = scaled(Image.fromarray(digit), side / 28, Image.Resampling.BICUBIC)
    room = 320 - side
    image = _on_paper(glyph, rng, (320, 320), (int(rng.integers(0, room + 1)), int(rng.integers(0, room + 1))))
    return _encode(image, "JPEG", int(rng.integers(55, 92)))


def canvas(digit, rng):
    side = int(rng.integers(180, 281))
    alpha = Image.new("L", (280, 280), 0)
    glyph = scaled(Image.fromarray(digit), side / 28, Image.Resampling.BILINEAR)
    alpha.paste(glyph, (int(rng.integers(0, 281 - side)), int(rng.integers(0, 281 - side))))
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    image.putalpha(alpha)
    return _encode(image)


def rotated(digit, rng):
    return _encode(scaled(Image.fromarray(255 - _rotated(digit, rng)), 3, Image.Resampling.BILINEAR))


def tight_scan(digit, rng):
    cropped = _paper_white(tight(digit))
    small = scaled(cropped, 10 / max(cropped.size), Image.Resampling.BOX)
    return _encode(scaled(small, 6, Image.Resampling.BILINEAR), "JPEG", int(rng.integers(65, 90)))


def rotated_bold_tight(digit, rng):
    big = scaled(_paper_white(tight(_bold(_rotated(digit, rng)))), 4, Image.Resampling.BILINEAR)
    return _encode(big.filter(ImageFilter.GaussianBlur(1.5)))


def paper_tight(digit, rng):
    cropped = tight(digit)
    glyph = scaled(Image.fromarray(cropped), 8, Image.Resampling.BICUBIC)
    margin = int(rng.integers(0, 9))
    image = _on_paper(glyph, rng, (glyph.width + 2 * margin, glyph.height + 2 * margin), (margin, margin))
    return _encode(image, "JPEG", int(rng.integers(60, 92)))


RENDERINGS: dict[str, Render] = {
    "as-is": as_is,
    "tight-x1": tight_x1,
    "tight-x4": tight_x4,
    "tight-x10": tight_x10,
    "scan-8": scan_8,
    "scan-12": scan_12,
    "scan-16": scan_16,
    "bold": bold,
    "thin": thin,
    "small-in-frame": small_in_frame,
    "light-on-dark": light_on_dark,
    "paper-photo": paper_photo,
    "canvas": canvas,
    "rotated": rotated,
    "tight-scan": tight_scan,
    "rotated-bold-tight": rotated_bold_tight,
    "paper-tight": paper_tight,
}
SUBSETS = tuple(RENDERINGS)
# The evaluation's seed; the development set uses DEVELOPMENT_SEED on MNIST's training digits.
SEED = 0
DEVELOPMENT_SEED = 1


def render(subset: str, digit: np.ndarray, index: int, seed: int = SEED) -> bytes:
    """Digit number `index` (uint8 28x28, light on black, as MNIST stores it) as `subset` renders it."""
    rng = np.random.default_rng([seed, SUBSETS.index(subset), index])
    return RENDERINGS[subset](digit, rng)
