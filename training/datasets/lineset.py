"""The lines evaluation set for `POST /read`, made from a seed: `python -m training dataset lines`.

Two subsets of 100 images, each a number on each of 2 lines (even indexes) or 3 lines (odd indexes), read top to
bottom. A line is 1 to 8 digits (the count uniform, as training/datasets/numberset.py draws them) or, one line in four,
an amount, date, time or negative number with its separators as training/datasets/amountset.py writes them (12.50,
1,000, 2026-12-02, 02/12/26, 10:45, -7). The lines are stacked with gaps of 0.2 to 1.0 of a line's height, all
left-aligned, all centred or all right-aligned (drawn per image), each line turned a little off the horizontal (up
to 3 degrees either way), and one image in five turned as a whole by up to 8 degrees.
- handwritten: MNIST **test** digits at one pen size for the whole image, dark on white (PNG), the separators
               drawn as pen strokes in the digits' ink (training/datasets/amountset.py's handwriting); the aligned edge
               as uneven as a hand keeps it.
- typed:       typed in one DejaVu or Liberation font and size per image, dark
               on light or light on dark (PNG).
`eval/lines/<subset>/<index>.png` with labels.json ({"<subset>/<index>.png": text}, the lines joined with "\\n",
no spaces) and MANIFEST.sha256 (covering labels.json too) is committed, so evaluating needs neither the MNIST files
nor the fonts. Every image is a pure function of (seed, subset, index).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.datasets import amountset, evalset, handwriting, numberset

SUBSETS = ("handwritten", "typed")
PER_SUBSET = 100
SET_ID = 2  # the first word of every image's seed, so this set's streams are its own
SEPARATED = 0.25  # the share of lines with separators
ALIGNMENTS = ("left", "centre", "right")


def line_text(rng: np.random.Generator) -> str:
    """One line: 1 to 8 digits, or (a quarter of lines) an amount, date, time or negative number."""
    if rng.random() < SEPARATED:
        return amountset.number_text(rng)[1]
    return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 9))))


def lines_text(rng: np.random.Generator, index: int) -> str:
    """2 lines for an even `index`, 3 for an odd one, joined with newlines."""
    return "\n".join(line_text(rng) for _ in range(2 + index % 2))


def _tilted(ink: np.ndarray, rng: np.random.Generator, most: float) -> np.ndarray:
    """`ink` (255 on 0) turned by up to `most` degrees either way, cropped to its ink."""
    image = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8))
    turned = image.rotate(float(rng.uniform(-most, most)), resample=Image.Resampling.BICUBIC, expand=True)
    return handwriting.tight(np.asarray(turned, dtype=np.float32), 0)


def stack(lines: list[np.ndarray], rng: np.random.Generator, margin: int, wobble: float) -> np.ndarray:
    """Lines (ink 255 on 0, each cropped to its ink) one under another, aligned alike and each turned up to 3
    degrees; the aligned edge off by up to `wobble` px; one image in five turned as a whole by up to 8 degrees."""
    heights = [line.shape[0] for line in lines]
    tilted = [_tilted(line, rng, 3) for line in lines]
    gaps = [round(rng.uniform(0.2, 1.0) * height) for height in heights[:-1]]
    alignment = ALIGNMENTS[int(rng.integers(len(ALIGNMENTS)))]
    shifts = [round(rng.uniform(-wobble, wobble)) for _ in tilted]
    room = round(wobble) + 1
    width = max(line.shape[1] for line in tilted) + 2 * (margin + room)
    field = np.zeros((sum(line.shape[0] for line in tilted) + sum(gaps) + 2 * margin, width), dtype=np.float32)
    y = margin
    for i, line in enumerate(tilted):
        spare = width - 2 * (margin + room) - line.shape[1]
        x = margin + room + shifts[i] + {"left": 0, "centre": spare // 2, "right": spare}[alignment]
        region = field[y : y + line.shape[0], x : x + line.shape[1]]
        np.maximum(region, line, out=region)
        y += line.shape[0] + (gaps[i] if i < len(gaps) else 0)
    if rng.random() < 0.2:
        image = Image.fromarray(np.clip(field, 0, 255).astype(np.uint8))
        turned = image.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BICUBIC, expand=True)
        field = np.asarray(turned, dtype=np.float32)
    return field


def _typed_line(text: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    """`text` typed on the font's digit line (its top the digits' top), cropped to its ink; ink 255 on 0."""
    left, _, right, bottom = font.getbbox(text)
    _, top, _, digits_bottom = font.getbbox("0123456789")
    image = Image.new("L", (int(right - left) + 4, int(max(bottom, digits_bottom) - top) + 4), 0)
    ImageDraw.Draw(image).text((2 - left, 2 - top), text, font=font, fill=255)
    return handwriting.tight(np.asarray(image, dtype=np.float32), 0)


def _shaded(ink: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Dark on light (7 in 10) or light on dark, as training/datasets/numberset.py shades typed text."""
    if rng.random() < 0.7:
        return numberset._gray(ink)
    ground, bright = rng.uniform(0, 70), rng.uniform(180, 255)
    return Image.fromarray((ground + (bright - ground) * np.clip(ink, 0, 255) / 255).astype(np.uint8))


def make(
    subset: str, text: str, rng: np.random.Generator, mnist: tuple[np.ndarray, np.ndarray], font_files: list[Path]
) -> bytes:
    """One PNG of the lines of `text` for `subset`."""
    if subset == "handwritten":
        scale = float(rng.uniform(1.2, 3.0))
        lines = [handwriting.tight(amountset.handwritten(line, rng, mnist, scale, 0), 0) for line in text.split("\n")]
        return evalset._encode(numberset._gray(stack(lines, rng, 12, 0.15 * 20 * scale)), "PNG")
    if subset == "typed":
        fitting = amountset.covering(font_files, text.replace("\n", ""))
        size = int(rng.integers(28, 100))
        font = ImageFont.truetype(str(fitting[int(rng.integers(len(fitting)))]), size=size)
        ink = stack([_typed_line(line, font) for line in text.split("\n")], rng, size // 3, 0)
        return evalset._encode(_shaded(ink, rng), "PNG")
    raise ValueError(subset)


def build(out: Path, mnist: tuple[np.ndarray, np.ndarray], seed: int = 0, per_subset: int = PER_SUBSET) -> int:
    """Write every subset under `out` with labels.json and MANIFEST.sha256; returns the number of files."""
    font_files = evalset.fonts()

    def image(subset: str, rng: np.random.Generator, index: int) -> tuple[str, bytes]:
        text = lines_text(rng, index)
        return text, make(subset, text, rng, mnist, font_files)

    rngs = lambda s, i: np.random.default_rng([SET_ID, seed, s, i])  # noqa: E731
    return amountset.write_labelled(out, SUBSETS, rngs, image, per_subset)


def load(folder: Path, per_subset: int | None = None) -> list[tuple[str, str, bytes]]:
    """(subset, text, encoded bytes) for the committed set; `per_subset` takes the first that many of each."""
    return amountset.load_labelled(folder, SUBSETS, per_subset)


def main(argv: list[str] | None = None) -> int:
    return numberset.command_line("lines", __doc__, "eval/lines", build, argv)
