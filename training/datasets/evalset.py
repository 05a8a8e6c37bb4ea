"""A labelled evaluation set of digits that are not MNIST, made from a seed: `python -m training dataset real-world`.

Five subsets of 200 images each, every digit 20 times per subset:
- fonts:   digits typed in the DejaVu and Liberation families (regular, bold, italic/oblique; sans, serif,
           mono), at many sizes, rotated, off centre, dark on light or light on dark.
- frames:  small digits far from the centre of a large frame, on coloured or gradient backgrounds, with
           noise, blur and JPEG artefacts.
- strokes: pen strokes as a person draws them on the page's canvas: a path per digit, jittered,
           slanted, scaled, in widths from thin to thick, on a transparent background (PNG with alpha).
- paper:   photo-like ink on paper: strokes or type in dark ink, paper grain, uneven light, a slight
           perspective, saved as JPEG.
- faint:   the same kinds of digit in faint ink (grey on grey).
The images are committed (`eval/real-world/<subset>/<index>_<label>.<ext>`) with `MANIFEST.sha256`, so
evaluation needs none of the fonts; this script makes them again, byte for byte for the PNGs, from its seed.
Never trained on: training reads MNIST only.

Font licences: DejaVu fonts, Bitstream Vera licence (with public-domain changes); Liberation fonts, SIL
Open Font License 1.1. Both from Debian's fonts-dejavu-core and fonts-liberation packages.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUBSETS = ("fonts", "frames", "strokes", "paper", "faint")
PER_DIGIT = 20
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))

# A pen path per digit in a unit square (x right, y down); a list of strokes, each a list of points.
PATHS: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5 + 0.3 * math.sin(2 * math.pi * t / 24), 0.5 - 0.4 * math.cos(2 * math.pi * t / 24)) for t in range(26)]],
    1: [[(0.38, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.22, 0.3), (0.35, 0.13), (0.6, 0.1), (0.78, 0.25), (0.75, 0.45), (0.22, 0.88), (0.82, 0.88)]],
    3: [[(0.22, 0.15), (0.65, 0.1), (0.8, 0.28), (0.5, 0.47), (0.82, 0.65), (0.72, 0.86), (0.22, 0.87)]],
    4: [[(0.6, 0.9), (0.6, 0.1), (0.15, 0.65), (0.85, 0.65)]],
    5: [[(0.78, 0.12), (0.28, 0.12), (0.24, 0.45), (0.6, 0.4), (0.8, 0.6), (0.7, 0.85), (0.22, 0.86)]],
    6: [[(0.7, 0.1), (0.38, 0.32), (0.24, 0.62), (0.34, 0.88), (0.64, 0.88), (0.76, 0.66), (0.55, 0.5), (0.27, 0.6)]],
    7: [[(0.15, 0.12), (0.85, 0.12), (0.42, 0.9)]],
    8: [
        [
            (0.5 + 0.2 * math.sin(2 * math.pi * t / 20), 0.3 - 0.18 * math.cos(2 * math.pi * t / 20))
            for t in range(10, 31)
        ]
        + [
            (0.5 - 0.24 * math.sin(2 * math.pi * t / 20), 0.68 + 0.2 * math.cos(2 * math.pi * t / 20))
            for t in range(-10, 11)
        ]
    ],  # the top loop from its bottom round, then the bottom loop from its top
    9: [
        [
            (0.7, 0.3),
            *[
                (0.5 + 0.2 * math.cos(2 * math.pi * t / 20), 0.3 + 0.2 * math.sin(2 * math.pi * t / 20))
                for t in range(21)
            ],
            (0.68, 0.9),
        ]
    ],
}


def fonts() -> list[Path]:
    found = sorted(path for folder in FONT_DIRS if folder.is_dir() for path in folder.glob("*.ttf"))
    if not found:
        raise SystemExit(
            "no fonts in " + ", ".join(map(str, FONT_DIRS)) + ": apt-get install fonts-dejavu-core "
            "fonts-liberation (only to make the set again; evaluating needs no fonts)"
        )
    return found


def _typed(
    rng: np.random.Generator, digit: int, font_files: list[Path], height: int, frame: int, ink: int, paper: int
) -> Image.Image:
    """A typed digit `height` px tall, rotated and placed at random in a `frame` square, grey levels given."""
    font = ImageFont.truetype(str(font_files[rng.integers(len(font_files))]), size=height)
    text = str(digit)
    left, top, right, bottom = font.getbbox(text)
    glyph = Image.new("L", (int(right - left) + 8, int(bottom - top) + 8), 0)
    ImageDraw.Draw(glyph).text((4 - left, 4 - top), text, font=font, fill=255)
    glyph = glyph.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BICUBIC, expand=True)
    canvas = Image.new("L", (frame, frame), paper)
    room_x, room_y = max(frame - glyph.width, 0), max(frame - glyph.height, 0)
    position = (int(rng.integers(room_x + 1)), int(rng.integers(room_y + 1)))
    canvas.paste(Image.new("L", glyph.size, ink), position, glyph)
    return canvas


def _stroked(
    rng: np.random.Generator, digit: int, size: int, width: float, margin: float = 0.12, path: list | None = None
) -> Image.Image:
    """The digit's pen path (or `path`), jittered, slanted, scaled, drawn in a transparent `size` square."""
    angle, shear = math.radians(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.1)
    scale_x, scale_y = rng.uniform(0.75, 1.1), rng.uniform(0.8, 1.05)
    layer = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(layer)
    for stroke in path or PATHS[digit]:
        points = []
        for x, y in stroke:
            x, y = x - 0.5 + rng.normal(0, 0.015), y - 0.5 + rng.normal(0, 0.015)
            x, y = (x + shear * y) * scale_x, y * scale_y
            x, y = x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle)
            points.append(((0.5 + x * (1 - 2 * margin)) * size, (0.5 + y * (1 - 2 * margin)) * size))
        draw.line(points, fill=255, width=max(1, round(width)), joint="curve")
        radius = width / 2
        for px, py in (points[0], points[-1]):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return layer


def _paper(rng: np.random.Generator, size: int, level: float) -> np.ndarray:
    """Paper: a brightness `level`, a light gradient across it, and grain."""
    y, x = np.mgrid[0:size, 0:size] / size
    direction = rng.uniform(0, 2 * math.pi)
    light = 25 * (math.cos(direction) * x + math.sin(direction) * y - 0.5)
    return level + light + rng.normal(0, 4, (size, size))


def _encode(image: Image.Image, fmt: str, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {"optimize": False}))
    return buffer.getvalue()


def make(subset: str, digit: int, rng: np.random.Generator, font_files: list[Path]) -> tuple[bytes, str]:
    """One image of `digit` for `subset`: its encoded bytes and file extension."""
    if subset == "fonts":
        dark_on_light = rng.random() < 0.7
        ink, paper = (20, 235) if dark_on_light else (235, 20)
        image = _typed(rng, digit, font_files, int(rng.integers(40, 170)), 224, ink, paper)
        return _encode(image, "PNG"), "png"
    if subset == "frames":
        frame = 448
        glyph = _typed(rng, digit, font_files, int(rng.integers(28, 70)), frame, 255, 0)
        mask = np.asarray(glyph, dtype=np.float32) / 255
        base = rng.uniform(120, 250, 3)
        tint = rng.uniform(-60, 60, 3)
        y = np.linspace(0, 1, frame)[:, None, None]
        background = np.clip(base + tint * y, 0, 255) * np.ones((frame, frame, 3))
        ink_colour = rng.uniform(0, 70, 3)
        pixels = background * (1 - mask[..., None]) + ink_colour * mask[..., None] + rng.normal(0, 6, (frame, frame, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))
        return _encode(image, "JPEG", int(rng.integers(35, 80))), "jpg"
    if subset == "strokes":
        size = 280
        alpha = _stroked(rng, digit, size, rng.uniform(6, 30))
        colour = (0, 0, 0) if rng.random() < 0.75 else tuple(int(v) for v in rng.integers(0, 256, 3))
        image = Image.new("RGBA", (size, size), (*colour, 0))
        image.putalpha(alpha)
        return _encode(image, "PNG"), "png"
    if subset in ("paper", "faint"):
        size = 320
        faint = subset == "faint"
        level = rng.uniform(200, 240)
        if rng.random() < 0.5:
            mask = np.asarray(_stroked(rng, digit, size, rng.uniform(8, 24)), dtype=np.float32) / 255
        else:
            mask = (
                np.asarray(_typed(rng, digit, font_files, int(rng.integers(90, 220)), size, 255, 0), dtype=np.float32)
                / 255
            )
        ink_level = level - (rng.uniform(25, 55) if faint else rng.uniform(140, 200))
        pixels = _paper(rng, size, level) * (1 - mask) + (ink_level + rng.normal(0, 3, (size, size))) * mask
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").convert("RGB")
        shift = rng.uniform(-0.08, 0.08, 8) * size  # a slight perspective: each corner moved a little
        corners = [(0, 0), (0, size), (size, size), (size, 0)]
        quad = [coordinate + shift[i] for i, corner in enumerate(corners) for coordinate in corner][:8]
        image = image.transform(
            (size, size), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC, fillcolor=(int(level),) * 3
        )
        return _encode(image, "JPEG", int(rng.integers(60, 92))), "jpg"
    raise ValueError(subset)


def write_set(out: Path, files: Iterable[tuple[str, bytes]]) -> int:
    """Write each (path relative to `out`, bytes) and MANIFEST.sha256 listing them; returns how many."""
    lines = []
    for name, data in files:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    (out / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")
    return len(lines)


def build(out: Path, seed: int = 0) -> int:
    """Write every subset under `out` and its MANIFEST.sha256; returns the number of images."""
    font_files = fonts()

    def files() -> Iterator[tuple[str, bytes]]:
        for subset_index, subset in enumerate(SUBSETS):
            rng = np.random.default_rng([seed, subset_index])
            for index in range(10 * PER_DIGIT):
                data, extension = make(subset, index % 10, rng, font_files)
                yield f"{subset}/{index:04d}_{index % 10}.{extension}", data

    return write_set(out, files())


def load(
    folder: Path, subsets: tuple[str, ...] = SUBSETS, per_subset: int | None = None
) -> list[tuple[str, int, bytes]]:
    """(subset, label, encoded bytes) for the committed set; `per_subset` takes that many from each, every digit."""
    items = []
    for subset in subsets:
        files = sorted((folder / subset).iterdir())
        if per_subset is not None:
            files = files[:per_subset]
        for path in files:
            items.append((subset, int(path.stem.rsplit("_", 1)[1]), path.read_bytes()))
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training dataset real-world",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="eval/real-world", help="where to write the set (default eval/real-world)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{build(Path(args.out), args.seed)} images in {args.out}")
    return 0
