"""Typed characters and photo clutter for training, made by renderers of their own.

The classifiers learned digits from MNIST's handwriting: typed in fonts they never met, a 1 with a flag and a
foot is a 7 to them, and the `isdigit` model, whose typed letters came from the evaluation sets' own fonts,
accepts a `$` or an `h` in another. This module makes training images in a third family of fonts, neither the
committed evaluation sets' (DejaVu, Liberation) nor the reading development set's (training/datasets/readingdev):

    apt-get install fonts-firacode fonts-go fonts-sil-gentium fonts-sil-charis fonts-sil-andika fonts-stix \\
        fonts-linuxlibertine fonts-comfortaa fonts-hack fonts-jetbrains-mono fonts-league-spartan \\
        fonts-quicksand fonts-cabin fonts-oxygen fonts-karla fonts-adf-gillius fonts-adf-universalis \\
        fonts-humor-sans fonts-dkg-handwriting fonts-breip fonts-mplus

- `typed`: one character in one of those fonts, at any size, weight and slant, dark on light, light on dark or
  coloured on a gradient, perhaps cropped tight, blurred, scanned small or saved as JPEG;
- `clutter`: what a phone photo holds besides writing: blank paper with its light and shadow, foliage, grass,
  soft blobs of colour.
Each image is a pure function of its seed and index. Without the fonts, training goes on without typed
characters and says so in the model card (`available()`).
"""

from __future__ import annotations

import io
import math
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from training.datasets.items import Item, prepare

FONT_ROOT = Path("/usr/share/fonts")
# The folders of the training fonts' Debian packages under /usr/share/fonts (truetype/ and opentype/).
FAMILIES = (
    "firacode", "go", "gentium", "charis", "andika", "stix", "linuxlibertine", "libertine", "comfortaa", "hack",
    "jetbrains-mono", "league-spartan", "quicksand", "cabin", "oxygen", "karla", "adf", "humor-sans",
    "dkg-handwriting", "breip", "mplus",
)  # fmt: skip
DIGITS = "0123456789"
# Letters and signs that are no digit, lowercase and capitals both, and the signs that come beside numbers.
NOT_DIGITS = "abcdefhkmnprtuvwxyACEFHKMNPRTUVWXY$%&?!#@+*=€£¥<>"


@cache
def fonts(characters: str = DIGITS) -> tuple[Path, ...]:
    """The training fonts that draw every one of `characters` (a font without a glyph draws a box)."""
    from fontTools.ttLib import TTFont

    found = []
    for path in sorted(FONT_ROOT.rglob("*")):
        if path.suffix.lower() not in (".ttf", ".otf") or not any(f"/{f}" in str(path.parent) for f in FAMILIES):
            continue
        try:
            cmap = TTFont(str(path), lazy=True).getBestCmap() or {}
        except Exception:  # noqa: BLE001, S112 - fontTools raises many kinds for a damaged file: not a training font
            continue
        if all(ord(c) in cmap for c in characters):
            found.append(path)
    return tuple(found)


def available() -> bool:
    return bool(fonts())


def _background(rng: np.random.Generator, size: tuple[int, int], dark: bool) -> tuple[np.ndarray, np.ndarray]:
    """A ground (RGB float) and an ink colour: paper or a screen, flat or a gradient, light or dark."""
    width, height = size
    if dark:
        ground = np.full((height, width, 3), rng.uniform(0, 70)) + rng.uniform(-10, 10, 3)
        ink = np.full(3, rng.uniform(170, 255))
    else:
        ground = np.full((height, width, 3), rng.uniform(180, 255)) + rng.uniform(-20, 5, 3)
        ink = rng.uniform(0, 90, 3) if rng.random() < 0.6 else rng.uniform(0, 200, 3) * (rng.random(3) < 0.6)
    if rng.random() < 0.5:  # a gradient across it
        y, x = np.mgrid[0:height, 0:width]
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (math.cos(angle) * x / width + math.sin(angle) * y / height)[..., None]
        ground = ground + ramp * rng.uniform(-60, 60, 3)
    return ground, ink


def _encode(image: Image.Image, rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    if rng.random() < 0.35:
        image.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(55, 95)))
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


def typed(character: str, seed: int, index: int, characters: str = DIGITS) -> bytes:
    """`character` typed in a training font, as users' images show typed text (see the module's docstring)."""
    rng = np.random.default_rng([seed, index, ord(character[0])])
    choices = fonts(characters)
    font = ImageFont.truetype(str(choices[int(rng.integers(len(choices)))]), size=int(rng.integers(24, 140)))
    left, top, right, bottom = font.getbbox(character)
    pad = int(rng.integers(0, max(2, int(bottom - top) // 2)))
    glyph = Image.new("L", (int(right - left) + 2 * pad + 4, int(bottom - top) + 2 * pad + 4), 0)
    draw = ImageDraw.Draw(glyph)
    draw.text((pad + 2 - left, pad + 2 - top), character, font=font, fill=255, stroke_width=int(rng.integers(0, 3)))
    if rng.random() < 0.4:  # a slant, or a turn of the page
        glyph = glyph.rotate(float(rng.uniform(-10, 10)), resample=Image.Resampling.BICUBIC, expand=True)
    if rng.random() < 0.3:  # scanned small, enlarged again
        small = max(7, int(glyph.height * rng.uniform(0.12, 0.4)))
        glyph = glyph.resize((max(1, glyph.width * small // glyph.height), small), Image.Resampling.BOX)
        glyph = glyph.resize((glyph.width * 4, glyph.height * 4), Image.Resampling.BILINEAR)
    mask = np.asarray(glyph, dtype=np.float32)[..., None] / 255
    ground, ink = _background(rng, glyph.size, rng.random() < 0.25)
    pixels = ground * (1 - mask) + ink * mask + rng.normal(0, rng.uniform(0, 5), ground.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    return _encode(image if rng.random() < 0.5 else image.convert("L"), rng)


# A ruled line's fragment or a crease would be a 1 at 28x28: those are for /read's segmentation to leave out, and the
# digit check is not taught them.
CLUTTER = ("blank", "foliage", "grass", "blobs")


def clutter(kind: str, seed: int, index: int) -> bytes:
    """A photo-like image with no writing in it, of `kind` (CLUTTER)."""
    rng = np.random.default_rng([seed, index, CLUTTER.index(kind)])
    width, height = int(rng.integers(120, 420)), int(rng.integers(120, 420))
    y, x = np.mgrid[0:height, 0:width]
    base = rng.uniform(150, 235)
    light = rng.uniform(-40, 40) * (x / width - 0.5) + rng.uniform(-40, 40) * (y / height - 0.5)
    pixels = np.repeat((base + light)[..., None], 3, axis=2) + rng.uniform(-15, 15, 3)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    if kind == "blank" and rng.random() < 0.6:  # a soft shadow of a hand or a phone
        shade = Image.new("L", image.size, 0)
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.2, 0.6) * max(width, height)
        ImageDraw.Draw(shade).ellipse([cx - r, cy - r, cx + r, cy + r], fill=int(rng.uniform(30, 90)))
        shade = shade.filter(ImageFilter.GaussianBlur(r / 3))
        image = Image.fromarray(
            np.clip(np.asarray(image, np.float32) - np.asarray(shade)[..., None], 0, 255).astype(np.uint8)
        )
    elif kind == "foliage":  # a trunk and a crown of leaves
        trunk_x = rng.uniform(0.3, 0.7) * width
        draw.rectangle([trunk_x - width * 0.04, height * 0.5, trunk_x + width * 0.04, height], fill=(90, 60, 40))
        for _ in range(int(rng.integers(15, 60))):
            cx, cy = trunk_x + rng.normal(0, width * 0.18), rng.uniform(0.05, 0.55) * height
            r = rng.uniform(0.03, 0.1) * width
            draw.ellipse(
                [cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.uniform([20, 60, 10], [90, 160, 60]))
            )
    elif kind == "grass":
        for _ in range(int(rng.integers(40, 160))):
            x0 = rng.uniform(0, width)
            blade = [(x0, height), (x0 + rng.normal(0, 12), height * rng.uniform(0.3, 0.9))]
            colour = tuple(int(v) for v in rng.uniform([20, 80, 10], [100, 180, 60]))
            draw.line(blade, width=int(rng.integers(1, 4)), fill=colour)
    elif kind == "blobs":
        for _ in range(int(rng.integers(1, 6))):
            cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.08, 0.35) * min(width, height)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.uniform(0, 255, 3)))
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 8))))
    noisy = np.asarray(image, np.float32) + rng.normal(0, rng.uniform(1, 6), (height, width, 3))
    return _encode(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB"), rng)


def typed_copies(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` typed digits (labels 0-9 in turn) preprocessed as the service does: uint8 (N, 28, 28), labels.

    None when the training fonts are not installed; the few renderings the preprocessing refuses are left out.
    """
    from functools import partial

    labels = np.arange(count) % 10
    items = [Item("typed", int(label), partial(typed, str(label), seed, i)) for i, label in enumerate(labels)]
    digits = prepare(items)
    kept = [i for i, d in enumerate(digits) if d is not None]
    pixels = np.stack([np.round(np.asarray(digits[i]) * 255) for i in kept]).astype(np.uint8)
    return pixels.reshape(len(kept), 28, 28), labels[kept]
