"""A NEW WRITER: one person's handwriting, drawn as pen strokes, for fine-tuning the CNN on a user's hand.

The fine-tuning feature (users correct misreadings, the CNN learns their hand) needs a hand to learn: a
consistent style unlike MNIST's (American) writers, drawn here as strokes, never taken from MNIST. The writer
is a continental-European schoolbook hand, written with a wide felt marker, leaning strongly to the right:

- the whole is written with a WIDE round marker (strokes about a fifth of the digit's height) at a strong
  slant, 15-25 degrees to the right, each sample a little different;
- 1: a long, arched leading flag (an upstroke from low on the left to the top of the stem), the stem, and a
  foot (a horizontal base serif across the bottom);
- 2: a round top, a straight diagonal, a sharp corner and a long flat base;
- 3: flat-topped: a horizontal top bar, a diagonal back to the middle, one round lower bowl;
- 4: open at the top: the left diagonal and the vertical stem do not meet; the bar crosses the stem;
- 5: a straight top bar drawn as its own stroke, a short down-stroke and a round belly;
- 6: a long curved back down into a closed bottom loop;
- 7: a nose (a short down-stroke where the top bar starts), a slightly curved stem, a crossbar through it;
- 8: two stacked loops, the lower one larger;
- 9: a round head and a straight vertical tail (no curl);
- 0: a narrow oval.

Each sample varies as one person's writing does: control points jittered, slant, size, aspect, position in the
frame, slight rotation, marker width, pressure along each stroke, ink tone. Each digit is a few strokes, each
stroke a Catmull-Rom spline through its control points, drawn on white paper in dark ink at 2x and reduced to
200x200 px; the digit is about 60-80 % of the frame's height (a wide one smaller, to stay on the paper).

Today's CNN (trained with shear, rotation and stroke-width augmentation) shrugs off the slant and the marker,
and the open 4 and the straight-tailed 9 are MNIST's own common forms; the flagged, footed 1 is what it
misreads (mostly as a 4).

    python -m training dataset new-writer --out DIR --per-digit N [--seed S]

writes DIR/<label>/<index>.png, the folder-per-label layout `keras.utils.image_dataset_from_directory` reads;
every image is a pure function of (seed, label, index).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 200  # the written image, px
SCALE = 2  # drawn at SCALE x SIZE, then reduced: anti-aliased strokes

Point = tuple[float, float]
Stroke = list[Point]


def _oval(cx: float, cy: float, rx: float, ry: float, start: float, turn: float, n: int = 9) -> Stroke:
    """Points on an ellipse from angle `start` (degrees, 0 = right, 90 = up) through `turn` degrees."""
    points = []
    for i in range(n):
        a = math.radians(start + turn * i / (n - 1))
        points.append((cx + rx * math.cos(a), cy - ry * math.sin(a)))
    return points


# The writer's digits, upright: x to the right, y down, the digit from y = 0 (top) to y = 1 (bottom), x about
# 0..0.8. The slant, size and position are applied per sample. Each digit is a list of strokes, each stroke the
# control points a spline passes through, in the order the pen moves.
def _shapes() -> dict[int, list[Stroke]]:
    return {
        # narrow, started at the top left and closed with a little overlap
        0: [_oval(0.2, 0.5, 0.19, 0.5, 105, 380, 10)],
        # the long flag: an arched upstroke from low on the left to the top of the stem; then the foot
        1: [
            [(-0.12, 0.75), (0.0, 0.4), (0.2, 0.12), (0.42, 0.0), (0.42, 0.5), (0.42, 1.0)],
            [(0.04, 1.0), (0.42, 1.0), (0.8, 0.99)],
        ],
        # a round top, a straight diagonal, a sharp corner and a long flat base
        2: [
            [
                (0.04, 0.26),
                (0.16, 0.05),
                (0.4, 0.0),
                (0.6, 0.1),
                (0.6, 0.32),
                (0.42, 0.56),
                (0.2, 0.8),
                (0.02, 0.99),
                (0.4, 0.98),
                (0.8, 1.0),
            ]
        ],
        # flat-topped: the bar, a diagonal back to the middle, one round bowl
        3: [
            [
                (0.02, 0.02),
                (0.35, 0.01),
                (0.66, 0.0),
                (0.44, 0.21),
                (0.23, 0.41),
                (0.47, 0.44),
                (0.65, 0.62),
                (0.61, 0.85),
                (0.38, 0.99),
                (0.13, 0.96),
                (0.0, 0.83),
            ]
        ],
        # open at the top: the diagonal turns into the bar; the stem, started lower, crosses the bar
        4: [
            [(0.34, 0.0), (0.17, 0.33), (0.0, 0.64), (0.35, 0.64), (0.78, 0.63)],
            [(0.55, 0.3), (0.55, 0.65), (0.54, 1.0)],
        ],
        # down-stroke and belly in one stroke, the top bar as a second stroke
        5: [
            [
                (0.12, 0.02),
                (0.1, 0.22),
                (0.07, 0.44),
                (0.3, 0.36),
                (0.56, 0.46),
                (0.64, 0.7),
                (0.5, 0.93),
                (0.24, 0.99),
                (0.02, 0.86),
            ],
            [(0.12, 0.01), (0.4, 0.0), (0.68, -0.01)],
        ],
        # a long back into a closed bottom loop
        6: [
            [
                (0.56, 0.02),
                (0.32, 0.16),
                (0.11, 0.44),
                (0.04, 0.75),
                (0.17, 0.97),
                (0.42, 0.98),
                (0.58, 0.8),
                (0.5, 0.58),
                (0.26, 0.54),
                (0.07, 0.68),
            ]
        ],
        # the nose (a short down-stroke at the start of the top bar), a slightly curved stem, a crossbar
        7: [
            [(0.0, 0.19), (0.02, 0.03), (0.3, 0.04), (0.72, 0.0), (0.56, 0.28), (0.45, 0.6), (0.4, 1.0)],
            [(0.08, 0.45), (0.48, 0.44), (0.88, 0.42)],
        ],
        # two stacked loops, the lower one larger
        8: [
            _oval(0.34, 0.23, 0.21, 0.23, 250, 370, 8),
            _oval(0.33, 0.72, 0.28, 0.27, 90, 370, 8),
        ],
        # a round head, then a straight tail down from its right side
        9: [
            _oval(0.32, 0.24, 0.27, 0.24, -20, 380, 8),
            [(0.58, 0.18), (0.58, 0.6), (0.57, 1.0)],
        ],
    }


SHAPES = _shapes()


def _spline(points: np.ndarray, step: float) -> np.ndarray:
    """A Catmull-Rom spline through `points` (n x 2), sampled about every `step` units of length."""
    if len(points) < 2:
        return points
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        n = max(2, math.ceil(float(np.linalg.norm(p2 - p1)) / step))
        t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
        out.append(
            0.5
            * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(points[-1:])
    return np.vstack(out)


# The writer's habits: ranges each sample draws from.
SLANT = (15.0, 25.0)  # degrees to the right
TURN = 3.0  # degrees, standard deviation of the whole digit's rotation
HEIGHT = (0.6, 0.78)  # of the frame
ASPECT = (0.92, 1.08)  # width / height, around the shape's own
MARKER = (0.17, 0.21)  # the marker's width, of the digit's height
JITTER = (0.015, 0.03)  # control points, of the height
WARP = 0.04  # a smooth bend of the whole digit, of the height


def _stamp(draw: ImageDraw.ImageDraw, path: np.ndarray, width: np.ndarray, ink: int) -> None:
    """Ink along `path` with a round felt tip: a disc of the local width at every point (about 1 px apart)."""
    for (x, y), w in zip(path, width, strict=True):
        r = w / 2
        draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)


def render(label: int, rng: np.random.Generator) -> Image.Image:
    """One sample of digit `label` in the writer's hand: a 200x200 grayscale image, dark ink on white."""
    if label not in SHAPES:
        raise ValueError(f"label must be a digit 0-9, not {label!r}")
    side = SIZE * SCALE
    height = rng.uniform(*HEIGHT) * side  # the digit's height, before the slant and turn
    aspect = rng.uniform(*ASPECT)
    slant = math.tan(math.radians(rng.uniform(*SLANT)))
    turn = math.radians(rng.normal(0.0, TURN))
    width_share = rng.uniform(*MARKER)  # of the height
    jitter = rng.uniform(*JITTER)
    # a smooth bend: each sample's hand drifts a little differently across the digit
    warp = rng.normal(0.0, WARP, (2, 2))
    phase = rng.uniform(0, 2 * math.pi, 2)

    strokes = []
    for stroke in SHAPES[label]:
        pts = np.asarray(stroke, dtype=float)
        pts = pts + rng.normal(0.0, jitter, pts.shape)
        pts[:, 0] += warp[0, 0] * np.sin(math.pi * pts[:, 1] + phase[0]) + warp[0, 1] * pts[:, 1]
        pts[:, 1] += warp[1, 0] * np.sin(math.pi * pts[:, 0] + phase[1]) + warp[1, 1] * pts[:, 0]
        pts[:, 0] *= aspect
        pts[:, 0] += (1.0 - pts[:, 1]) * slant  # lean to the right: the top moves right
        strokes.append(pts)

    cos, sin = math.cos(turn), math.sin(turn)
    rotation = np.array([[cos, -sin], [sin, cos]])
    every = np.vstack(strokes)
    centre = (every.min(axis=0) + every.max(axis=0)) / 2
    placed = [(pts - centre) @ rotation.T for pts in strokes]
    every = np.vstack(placed)
    # a wide digit (a 1 with its flag and foot, a 7 with its crossbar) is written smaller to stay on the paper
    span = every.max(axis=0) - every.min(axis=0) + width_share
    height = min(height, 0.9 * side / float(span.max()))
    width = height * width_share
    placed = [pts * height for pts in placed]
    every = np.vstack(placed)
    lo, hi = every.min(axis=0) - width / 2, every.max(axis=0) + width / 2
    room = np.maximum(side - (hi - lo), 0.0)
    # somewhere in the frame, mostly near its middle
    offset = -lo + room * rng.uniform(0.25, 0.75, 2)

    paper = int(rng.integers(242, 256))
    ink = int(rng.integers(10, 60))
    image = Image.new("L", (side, side), paper)
    draw = ImageDraw.Draw(image)
    for pts in placed:
        path = _spline(pts + offset, step=1.0)
        s = np.linspace(0.0, 1.0, len(path))
        # pressure: the marker lands a little light, presses in the middle, lifts at the end
        wobble = rng.uniform(0.0, 0.12)
        pressure = (0.82 + 0.18 * np.sin(np.pi * np.clip(s * 1.15, 0, 1))) * (
            1.0 + wobble * np.sin(2 * np.pi * s * rng.uniform(1.0, 2.5) + rng.uniform(0, 2 * math.pi))
        )
        _stamp(draw, path, width * rng.uniform(0.92, 1.08) * pressure, ink)
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def write(out: Path, per_digit: int, seed: int) -> int:
    """Write `per_digit` samples of every digit to out/<label>/<index>.png; return how many were written."""
    count = 0
    for label in range(10):
        folder = Path(out) / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_digit):
            rng = np.random.default_rng([seed, label, index])
            render(label, rng).save(folder / f"{index}.png")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training dataset new-writer", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory to write <label>/<index>.png into")
    parser.add_argument("--per-digit", required=True, type=int, help="samples of each digit")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.per_digit < 0 or args.seed < 0:
        parser.error("--per-digit and --seed must be >= 0")
    count = write(args.out, args.per_digit, args.seed)
    print(f"wrote {count} images to {args.out}")
    return 0
