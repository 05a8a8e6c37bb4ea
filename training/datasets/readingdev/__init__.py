"""A development set for tuning the number reader, sharing no renderer with the reported sets.

    python -m training dataset reading-dev --out DIR [--seed 1] [--per-subset 60] [--mnist-dir DIR]

writes DIR/<subset>/<index>.<ext>, DIR/labels.json ({"<subset>/<index>.<ext>": text}) and DIR/MANIFEST.sha256.
`text` is what is written: digits and the separators . , - / : as written, no spaces, lines joined with
"\\n" top to bottom, "" when nothing is written; foreign marks ($ % € letters) appear literally. Every
image is a pure function of (seed, subset, index): its generator is numpy's default_rng([seed, k, index])
with k the subset's position below.

Sources of ink (all written for this set, from a description, without reading the reported sets' code):
- real handwriting: MNIST's TRAINING split only (never x_test), and scikit-learn's `load_digits()`
  (1,797 real 8x8 scans, shipped inside scikit-learn); a digit is cut to its ink, resized, blurred and
  passed through a pen curve (threshold 0.22-0.62: thin to thick pen), sometimes dilated or eroded;
- our own pen-stroke glyphs (strokes.py): 2-3 styles per digit, the separators, 24 letters and 9
  symbols, made hand-drawn by a random walk on each stroke, slant, rotation and width, and mouse-like by
  uneven sampling on whole pixels;
- typefaces from Debian packages (fonts.py): fonts-freefont-ttf (FreeSans/Serif/Mono), fonts-urw-base35
  (Nimbus Sans/Roman/Mono PS, Nimbus Sans Narrow, P052, C059, URW Bookman, URW Gothic, Z003),
  fonts-roboto-unhinted (Roboto, Roboto Condensed), fonts-open-sans, fonts-lato, fonts-crosextra-carlito,
  fonts-crosextra-caladea, fonts-texgyre (Heros, Heros Cn, Adventor, Termes, Pagella, Bonum, Schola,
  Cursor), fonts-cantarell, fonts-noto-mono (Noto Mono, Noto Sans Mono), fonts-inconsolata. Never DejaVu
  or Liberation (nor croscore's Arimo/Tinos/Cousine, which Liberation 2 is drawn from). With none of them
  installed the generator stops with the apt-get line to run.

Subsets (default 60 images each):
1. handwritten: 1-10 MNIST digits (15 % of numbers from scikit-learn's 8x8 digits upscaled) on one
   baseline; in a third of the numbers neighbours crowd: bounding boxes overlapping by 0-25 % of a digit's
   width, or inks touching or just crossing (measured row by row); the rest with gaps of 0.04-0.45 digit
   heights; per-digit size +-12 % and baseline wobble, aspect 0.8-1.25, slant -0.2..0.35, pen thickness
   by threshold and dilation/erosion (each digit's stroke brought near the first's: one hand, one pen);
   digit height 15-400 px (width at most 1800 px); one in six written 18-50 px tall on a large page.
   Dark ink (black, ballpoint blue, pencil, felt, red) on off-white, flat.
2. paper: a handwritten number (15 % amounts) photographed on a sheet with a phone: paper fibres and grain,
   sometimes ruled or squared; sheet 0.8-1.15 of the photo, rotated +-6 degrees with perspective, so the
   desk (wood grain, grey, coloured) shows at some edges; light gradient, vignetting, a soft hand or
   phone shadow, colour cast, blur, sensor noise; 720-1280 px photos, digits 4-8 % (a third) or 8-30 %
   of the photo height; one in twelve a blank sheet (""). JPEG (some WebP).
3. typed: 1-10 digits in the fonts above, styles regular, bold, italic, condensed, mono, serif in turn;
   dark on light, light on dark, or coloured (green, red, blue, orange, purple, teal; mostly bold) on a
   light linear or radial colour gradient; font size 10-200 px, sometimes squeezed or widened 0.75-1.3,
   a quarter cropped to within 0-2 px of the ink.
4. scan: half are scikit-learn 8x8 digits side by side (paper 190-255, ink 0-90) enlarged x3-x8; half
   are MNIST or typed numbers box-reduced to 8-16 px digit height, laid on a page, enlarged x2-x8;
   nearest, bilinear or bicubic; sensor noise; mostly JPEG.
5. canvas: 1-6 digits from our stroke glyphs, digit height 100-300 px, pen 4-24 px, slant, rotation +-6,
   stroke wobble, 60 % with mouse sampling; a browser-sized canvas (280x280 to 1200x600); half transparent
   RGBA PNG with dark strokes, half on white (PNG, some JPEG/WebP).
6. amounts: decimals, thousands, negatives, ISO/US/European dates, times, fractions and ranges
   (e.g. 12.50, 1,234.56, -0.5, 2026-12-02, 12/31/2026, 31.12.2026, 10:45); half handwritten (MNIST
   digits; a dot is a round blob at the baseline 0.5-1.1 pen widths, a comma a blob with a tail 0.12-0.3 of
   the digit height below the baseline, a minus a 0.25-0.5 bar at mid-height, a slash a leaning stroke
   1.0-1.25 tall, a colon two dots), half typed; digits 16-250 px; 15 % photographed on paper.
7. lines: 2 or 3 lines of 1-8 digits (a quarter amounts of at most 8 digits), all handwritten by one hand
   or all typed in one font, left-aligned or centred, 0.05-1.2 digit heights between lines, 35 % tilted
   by up to 10 degrees; a quarter photographed on paper.
8. foreign: $45, $12.50, 12%, €20, 20€, #5, A12, 7x3, 3+4, 12kg, letters alone (abc), a letter inside or
   after digits (4a7, 12B); half handwritten (MNIST digits with our stroke letters and symbols), half typed.
9. tilted: 1-8 digits, handwritten or typed, rotated by 0-10 degrees either way (half each way);
   a fifth photographed on paper.
10. nondigit: one mark per image: lowercase h e c r t a u x n m k, capitals A R V U Y C E K M W, symbols
   $ % & ? ! # @ + (typed, drawn with a pen on paper, or drawn on a canvas), photo-like scenes (a tree of
   trunk and foliage blobs, grass blades, soft colour blobs) and blank paper photos; text is the mark, or
   "" for a scene or blank paper.

Every subset varies the output: PNG, JPEG (quality 45-95) or WebP (lossy 50-95 or lossless), and RGB,
L or RGBA where the source allows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from training.datasets.evalset import write_set
from training.datasets.mnist import DatasetError

SUBSETS = (
    "handwritten",
    "paper",
    "typed",
    "scan",
    "canvas",
    "amounts",
    "lines",
    "foreign",
    "tilted",
    "nondigit",
)


def render(seed: int, subset: str, index: int) -> tuple[bytes, str, str]:
    """One image of the set: (encoded bytes, extension, text); a pure function of its arguments."""
    from training.datasets.readingdev.subsets import RENDERERS

    rng = np.random.default_rng([seed, SUBSETS.index(subset), index])
    return RENDERERS[subset](rng, index)


def build(out: Path, seed: int = 1, per_subset: int = 60, subsets: tuple[str, ...] = SUBSETS) -> dict[str, str]:
    """Write the set under `out` (images, MANIFEST.sha256, labels.json); returns the labels."""
    from training.datasets.readingdev.fonts import find_fonts

    find_fonts()  # fail early, naming the packages, when no font is installed
    labels: dict[str, str] = {}

    def files() -> Iterator[tuple[str, bytes]]:
        for subset in subsets:
            for index in range(per_subset):
                data, extension, text = render(seed, subset, index)
                name = f"{subset}/{index:04d}.{extension}"
                labels[name] = text
                yield name, data

    out.mkdir(parents=True, exist_ok=True)
    write_set(out, files())
    (out / "labels.json").write_text(json.dumps(labels, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return labels


def main(argv: list[str] | None = None) -> int:
    """Command line: build the set."""
    from training.datasets.readingdev.compose import use_mnist_dir
    from training.datasets.readingdev.fonts import FontsMissing

    parser = argparse.ArgumentParser(
        prog="python -m training dataset reading-dev", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the set into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--per-subset", type=int, default=60, help="images per subset")
    parser.add_argument("--subsets", default=",".join(SUBSETS), help="comma-separated subsets (default: all)")
    parser.add_argument(
        "--mnist-dir", default=None, help="MNIST IDX folder (default: $MNIST_DIR or /work/shared/data/mnist)"
    )
    args = parser.parse_args(argv)
    chosen = tuple(s for s in args.subsets.split(",") if s)
    unknown = [s for s in chosen if s not in SUBSETS]
    if unknown:
        parser.error(f"unknown subsets {unknown}; choose from {', '.join(SUBSETS)}")
    use_mnist_dir(args.mnist_dir or os.environ.get("MNIST_DIR"))
    try:
        labels = build(args.out, args.seed, args.per_subset, chosen)
    except (FontsMissing, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(labels)} images and labels.json to {args.out}")
    return 0
