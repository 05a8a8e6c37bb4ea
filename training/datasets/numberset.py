"""The numbers evaluation set for `POST /read`, made from a seed: `python -m training dataset numbers`.

Five subsets of 100 images, each a number of 2 to 8 digits (the digit count uniform), its text in the name:
- handwritten: MNIST **test** digits side by side at one pen size, dark on white (PNG); the gaps between
               them from nearly touching to a digit's width, each digit a little off the line.
- paper:       the same kind of number photographed on paper: tint, uneven light, grain, blur (JPEG).
- canvas:      drawn on a transparent canvas as the page sends it: pen strokes (training/datasets/evalset.py's paths),
               jittered, slanted, one pen width (PNG with alpha).
- typed:       typed in the DejaVu and Liberation families at many sizes, dark on light or light on dark,
               turned a little (PNG).
- scan:        a low-resolution scan cropped tight: handwritten or typed, reduced to 9-16 px tall, enlarged
               4-6x, JPEG.
`eval/numbers/<subset>/<index>_<text>.<ext>` with MANIFEST.sha256 is committed, so evaluating needs neither the
MNIST files nor the fonts; making it again needs both (MNIST_DIR).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.datasets import evalset, handwriting
from training.datasets.mnist import load_mnist

SUBSETS = ("handwritten", "paper", "canvas", "typed", "scan")
PER_SUBSET = 100


def digits_text(rng: np.random.Generator) -> str:
    count = int(rng.integers(2, 9))
    return "".join(str(d) for d in rng.integers(0, 10, count))


def compose(glyphs: list[np.ndarray], rng: np.random.Generator, gap: tuple[float, float], margin: int) -> np.ndarray:
    """Glyphs (ink 255 on 0, one height scale) side by side on one line, each a little off it; ink 255 on 0."""
    height = max(g.shape[0] for g in glyphs)
    gaps = [round(rng.uniform(*gap) * height) for _ in glyphs[1:]]
    width = sum(g.shape[1] for g in glyphs) + sum(gaps) + 2 * margin
    field = np.zeros((height + 2 * margin + height // 4, width), dtype=np.float32)
    x = margin
    for i, glyph in enumerate(glyphs):
        y = margin + int(rng.integers(0, height // 8 + 1)) + (height - glyph.shape[0]) // 2
        region = field[y : y + glyph.shape[0], x : x + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        x += glyph.shape[1] + (gaps[i] if i < len(gaps) else 0)
    return field


def _mnist_glyphs(text: str, rng: np.random.Generator, mnist: tuple[np.ndarray, np.ndarray], scale: float):
    images, labels = mnist
    glyphs = []
    for char in text:
        choices = np.flatnonzero(labels == int(char))
        digit = handwriting.tight(images[int(rng.choice(choices))], 0)
        glyph = handwriting.scaled(Image.fromarray(digit), scale, Image.Resampling.BICUBIC)
        glyphs.append(np.asarray(glyph, dtype=np.float32))
    return glyphs


def _typed(text: str, rng: np.random.Generator, font_files: list[Path], size: int) -> np.ndarray:
    font = ImageFont.truetype(str(font_files[rng.integers(len(font_files))]), size=size)
    left, top, right, bottom = font.getbbox(text)
    margin = size // 3
    image = Image.new("L", (int(right - left) + 2 * margin, int(bottom - top) + 2 * margin), 0)
    ImageDraw.Draw(image).text((margin - left, margin - top), text, font=font, fill=255)
    image = image.rotate(float(rng.uniform(-4, 4)), resample=Image.Resampling.BICUBIC, expand=True)
    return np.asarray(image, dtype=np.float32)


def _gray(ink: np.ndarray) -> Image.Image:
    return Image.fromarray(255 - np.clip(ink, 0, 255).astype(np.uint8))


def make(subset: str, text: str, rng: np.random.Generator, mnist, font_files: list[Path]) -> tuple[bytes, str]:
    """One image of the number `text` for `subset`: its encoded bytes and file extension."""
    if subset == "handwritten":
        ink = compose(_mnist_glyphs(text, rng, mnist, rng.uniform(1.2, 3.5)), rng, (0.05, 0.5), 12)
        return evalset._encode(_gray(ink), "PNG"), "png"
    if subset == "paper":
        ink = compose(_mnist_glyphs(text, rng, mnist, rng.uniform(2.5, 5)), rng, (0.05, 0.5), 0)
        margin = int(rng.integers(20, 80))
        size = (ink.shape[1] + 2 * margin, ink.shape[0] + 2 * margin)
        glyph = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8))
        photo = handwriting._on_paper(glyph, rng, size, (margin, margin))
        return evalset._encode(photo, "JPEG", int(rng.integers(60, 92))), "jpg"
    if subset == "canvas":
        side, pen = 160, rng.uniform(8, 18)
        glyphs = [np.asarray(evalset._stroked(rng, int(c), side, pen, margin=0.05), dtype=np.float32) for c in text]
        ink = compose([handwriting.tight(g, 0) for g in glyphs], rng, (0.08, 0.4), 20)
        image = Image.new("RGBA", (ink.shape[1], ink.shape[0]), (0, 0, 0, 0))
        image.putalpha(Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8)))
        return evalset._encode(image, "PNG"), "png"
    if subset == "typed":
        ink = _typed(text, rng, font_files, int(rng.integers(28, 120)))
        if rng.random() < 0.7:
            return evalset._encode(_gray(ink), "PNG"), "png"
        ground, bright = rng.uniform(0, 70), rng.uniform(180, 255)
        pixels = ground + (bright - ground) * ink / 255
        return evalset._encode(Image.fromarray(pixels.astype(np.uint8)), "PNG"), "png"
    if subset == "scan":
        if rng.random() < 0.5:
            ink = compose(_mnist_glyphs(text, rng, mnist, 3), rng, (0.1, 0.5), 0)
        else:
            ink = _typed(text, rng, font_files, 90)
        cropped = _gray(handwriting.tight(ink))
        low = int(rng.integers(9, 17))
        small = handwriting.scaled(cropped, low / cropped.height, Image.Resampling.BOX)
        big = handwriting.scaled(small, float(rng.uniform(4, 6)), Image.Resampling.BILINEAR)
        return evalset._encode(big, "JPEG", int(rng.integers(65, 92))), "jpg"
    raise ValueError(subset)


def build(out: Path, mnist: tuple[np.ndarray, np.ndarray], seed: int = 0, per_subset: int = PER_SUBSET) -> int:
    """Write every subset under `out` and its MANIFEST.sha256; returns the number of images."""
    font_files = evalset.fonts()

    def files() -> Iterator[tuple[str, bytes]]:
        for subset_index, subset in enumerate(SUBSETS):
            rng = np.random.default_rng([seed, subset_index])
            for index in range(per_subset):
                text = digits_text(rng)
                data, extension = make(subset, text, rng, mnist, font_files)
                yield f"{subset}/{index:04d}_{text}.{extension}", data

    return evalset.write_set(out, files())


def load(folder: Path, per_subset: int | None = None) -> list[tuple[str, str, bytes]]:
    """(subset, text, encoded bytes) for the committed set; `per_subset` takes the first that many of each."""
    items = []
    for subset in SUBSETS:
        files = sorted((folder / subset).iterdir())[:per_subset]
        items += [(subset, path.stem.split("_", 1)[1], path.read_bytes()) for path in files]
    return items


def command_line(
    name: str, doc: str | None, default_out: str, build: Callable[..., int], argv: list[str] | None = None
) -> int:
    """The command line of a committed reading set: `python -m training dataset NAME [--out DIR] [--seed N]
    [--data-dir DIR]`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m training dataset {name}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=default_out, help=f"where to write the set (default {default_out})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="the MNIST IDX files (default $MNIST_DIR)")
    args = parser.parse_args(argv)
    mnist = load_mnist(args.data_dir)
    print(f"{build(Path(args.out), (mnist.x_test, mnist.y_test), args.seed)} images in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_line("numbers", __doc__, "eval/numbers", build, argv)
