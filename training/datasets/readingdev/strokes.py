"""Pen-stroke glyphs of our own: digits (several styles each), separators, letters and symbols.

A glyph is an advance width and a list of strokes; a stroke is an (N, 2) array of points in em units:
x to the right, y down, digits from y=0 (top) to y=1 (baseline); lowercase letters have their x-height at
y=0.45 and descend to y=1.35. `jitter` makes a hand-drawn (or mouse-drawn) instance, `draw` rasterises it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter1d

Stroke = np.ndarray
Glyph = tuple[float, list[Stroke]]


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> Stroke:
    """Points of an elliptic arc from angle a0 to a1 (degrees, 0 = right, 90 = up, increasing = anticlockwise)."""
    n = max(4, int(abs(a1 - a0) / 8))
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def seg(*points: tuple[float, float]) -> Stroke:
    """A polyline through the points."""
    return np.array(points, dtype=float)


def spline(*points: tuple[float, float]) -> Stroke:
    """A smooth Catmull-Rom curve through the points."""
    p = np.array(points, dtype=float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, 8, endpoint=False):
            out.append(
                0.5
                * (
                    2 * p1
                    + (p2 - p0) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                    + (3 * p1 - p0 - 3 * p2 + p3) * t**3
                )
            )
    out.append(p[-2])
    return np.array(out)


def join(*parts: Stroke) -> Stroke:
    """One stroke made of consecutive pieces."""
    return np.vstack(parts)


def dot(x: float, y: float, r: float = 0.012) -> Stroke:
    """A small round blob (a pen tap)."""
    return arc(x, y, r, r, 0, 360)


DIGITS: dict[str, list[Glyph]] = {
    "0": [
        (0.62, [arc(0.31, 0.5, 0.28, 0.5, 95, 455)]),
        (0.6, [arc(0.3, 0.5, 0.26, 0.49, 75, 460)]),
        (0.5, [arc(0.25, 0.5, 0.21, 0.5, 110, 480)]),
    ],
    "1": [
        (0.3, [seg((0.15, 0.0), (0.15, 1.0))]),
        (0.42, [seg((0.04, 0.22), (0.3, 0.0), (0.3, 1.0))]),
        (0.56, [seg((0.08, 0.2), (0.3, 0.0), (0.3, 1.0)), seg((0.06, 1.0), (0.54, 1.0))]),
    ],
    "2": [
        (0.62, [join(arc(0.3, 0.28, 0.26, 0.27, 160, -30), seg((0.52, 0.42), (0.04, 1.0), (0.6, 1.0)))]),
        (
            0.64,
            [join(arc(0.3, 0.3, 0.27, 0.28, 170, -20), spline((0.55, 0.38), (0.4, 0.66), (0.06, 0.98), (0.62, 0.97)))],
        ),
        (0.62, [join(spline((0.05, 0.18), (0.3, 0.0), (0.55, 0.18), (0.45, 0.5), (0.05, 0.97)), seg((0.6, 0.97)))]),
    ],
    "3": [
        (0.6, [join(arc(0.28, 0.26, 0.24, 0.24, 150, -90), arc(0.28, 0.74, 0.27, 0.26, 90, -150))]),
        (0.6, [join(seg((0.05, 0.0), (0.55, 0.0), (0.24, 0.4)), arc(0.25, 0.7, 0.3, 0.3, 95, -150))]),
        (0.6, [join(spline((0.05, 0.1), (0.35, 0.0), (0.5, 0.2), (0.2, 0.47)), arc(0.25, 0.73, 0.3, 0.27, 90, -155))]),
    ],
    "4": [
        (0.66, [seg((0.35, 0.0), (0.05, 0.65), (0.64, 0.65)), seg((0.48, 0.3), (0.48, 1.0))]),
        (0.66, [seg((0.46, 0.0), (0.03, 0.68), (0.64, 0.68)), seg((0.46, 0.0), (0.46, 1.0))]),
        (0.64, [seg((0.08, 0.0), (0.05, 0.6), (0.62, 0.6)), seg((0.46, 0.05), (0.46, 1.0))]),
    ],
    "5": [
        (
            0.6,
            [
                join(seg((0.12, 0.02), (0.08, 0.47)), arc(0.3, 0.71, 0.27, 0.28, 135, -150)),
                seg((0.1, 0.02), (0.56, 0.0)),
            ],
        ),
        (0.6, [join(seg((0.56, 0.0), (0.12, 0.0), (0.08, 0.45)), arc(0.3, 0.7, 0.27, 0.29, 140, -155))]),
    ],
    "6": [
        (0.6, [join(spline((0.5, 0.0), (0.2, 0.2), (0.04, 0.6)), arc(0.3, 0.73, 0.26, 0.27, 175, 535))]),
        (0.58, [join(seg((0.45, 0.0), (0.05, 0.66)), arc(0.29, 0.74, 0.25, 0.26, 165, 530))]),
    ],
    "7": [
        (0.62, [seg((0.03, 0.02), (0.6, 0.02), (0.22, 1.0))]),
        (0.62, [seg((0.03, 0.1), (0.04, 0.02), (0.6, 0.02), (0.25, 1.0)), seg((0.16, 0.52), (0.56, 0.5))]),
        (0.62, [join(seg((0.03, 0.03), (0.6, 0.0)), spline((0.6, 0.0), (0.42, 0.35), (0.3, 0.7), (0.28, 1.0)))]),
    ],
    "8": [
        (
            0.6,
            [
                join(
                    arc(0.3, 0.24, 0.21, 0.24, 20, 200),
                    spline((0.1, 0.32), (0.3, 0.48), (0.54, 0.7)),
                    arc(0.3, 0.74, 0.25, 0.26, 10, -270),
                    spline((0.3, 0.48), (0.5, 0.3), (0.5, 0.16)),
                )
            ],
        ),
        (0.6, [arc(0.3, 0.24, 0.2, 0.24, 90, 450), arc(0.3, 0.74, 0.26, 0.26, 90, 450)]),
    ],
    "9": [
        (0.6, [join(arc(0.3, 0.27, 0.25, 0.27, 15, 375), seg((0.55, 0.2), (0.52, 1.0)))]),
        (
            0.6,
            [join(arc(0.29, 0.27, 0.25, 0.27, 10, 370), spline((0.54, 0.22), (0.54, 0.6), (0.44, 0.9), (0.15, 1.0)))],
        ),
    ],
}

SEPARATORS: dict[str, Glyph] = {
    ".": (0.2, [dot(0.1, 0.96)]),
    ",": (0.22, [join(dot(0.12, 0.95, 0.015), spline((0.12, 0.95), (0.13, 1.02), (0.09, 1.12), (0.02, 1.2)))]),
    "-": (0.44, [seg((0.03, 0.56), (0.4, 0.53))]),
    "/": (0.42, [seg((0.0, 1.04), (0.4, -0.04))]),
    ":": (0.2, [dot(0.1, 0.38), dot(0.1, 0.94)]),
}

MARKS: dict[str, Glyph] = {
    "a": (0.56, [join(arc(0.25, 0.73, 0.21, 0.27, 40, 405), seg((0.46, 0.5), (0.48, 1.0)))]),
    "b": (0.56, [seg((0.05, 0.0), (0.05, 1.0)), join(seg((0.05, 0.62)), arc(0.28, 0.73, 0.23, 0.27, 155, -175))]),
    "c": (0.52, [arc(0.27, 0.73, 0.24, 0.27, 50, 310)]),
    "e": (0.54, [join(seg((0.04, 0.73), (0.5, 0.72)), arc(0.27, 0.73, 0.23, 0.27, 5, 310))]),
    "g": (
        0.54,
        [join(arc(0.25, 0.7, 0.21, 0.25, 20, 380), spline((0.45, 0.6), (0.47, 1.1), (0.35, 1.32), (0.05, 1.25)))],
    ),
    "h": (
        0.56,
        [seg((0.05, 0.0), (0.05, 1.0)), join(arc(0.27, 0.7, 0.22, 0.24, 175, 0), seg((0.49, 0.7), (0.5, 1.0)))],
    ),
    "k": (0.52, [seg((0.05, 0.0), (0.05, 1.0)), seg((0.45, 0.45), (0.06, 0.76), (0.48, 1.0))]),
    "m": (
        0.74,
        [
            join(
                seg((0.05, 0.45), (0.05, 1.0), (0.05, 0.62)),
                arc(0.2, 0.62, 0.15, 0.16, 175, 0),
                seg((0.35, 1.0), (0.35, 0.62)),
                arc(0.51, 0.62, 0.16, 0.16, 175, 0),
                seg((0.67, 1.0)),
            )
        ],
    ),
    "n": (
        0.56,
        [join(seg((0.05, 0.45), (0.05, 1.0), (0.05, 0.66)), arc(0.27, 0.68, 0.22, 0.22, 175, 0), seg((0.5, 1.0)))],
    ),
    "r": (0.44, [seg((0.05, 0.45), (0.05, 1.0)), arc(0.24, 0.64, 0.19, 0.17, 175, 40)]),
    "t": (
        0.44,
        [
            join(seg((0.18, 0.1), (0.18, 0.9)), spline((0.18, 0.9), (0.26, 1.0), (0.4, 0.96))),
            seg((0.02, 0.45), (0.4, 0.44)),
        ],
    ),
    "u": (
        0.56,
        [
            join(seg((0.05, 0.45), (0.05, 0.76)), arc(0.26, 0.76, 0.21, 0.24, 180, 360), seg((0.47, 0.45))),
            seg((0.47, 0.45), (0.5, 1.0)),
        ],
    ),
    "x": (0.5, [seg((0.03, 0.45), (0.47, 1.0)), seg((0.47, 0.45), (0.03, 1.0))]),
    "A": (0.62, [seg((0.02, 1.0), (0.31, 0.0), (0.6, 1.0)), seg((0.13, 0.63), (0.5, 0.63))]),
    "B": (
        0.6,
        [
            seg((0.05, 0.0), (0.05, 1.0)),
            join(
                seg((0.05, 0.0), (0.28, 0.0)),
                arc(0.28, 0.24, 0.22, 0.24, 90, -90),
                seg((0.08, 0.48), (0.32, 0.48)),
                arc(0.32, 0.74, 0.25, 0.26, 90, -90),
                seg((0.05, 1.0)),
            ),
        ],
    ),
    "C": (0.64, [arc(0.34, 0.5, 0.31, 0.5, 55, 305)]),
    "E": (0.56, [seg((0.53, 0.0), (0.05, 0.0), (0.05, 1.0), (0.53, 1.0)), seg((0.05, 0.5), (0.42, 0.5))]),
    "K": (0.58, [seg((0.05, 0.0), (0.05, 1.0)), seg((0.52, 0.0), (0.06, 0.56), (0.55, 1.0))]),
    "M": (0.72, [seg((0.03, 1.0), (0.07, 0.0), (0.36, 0.62), (0.65, 0.0), (0.69, 1.0))]),
    "R": (
        0.6,
        [
            seg((0.05, 1.0), (0.05, 0.0)),
            join(seg((0.05, 0.0), (0.28, 0.0)), arc(0.28, 0.26, 0.24, 0.26, 90, -90), seg((0.05, 0.52))),
            seg((0.25, 0.52), (0.57, 1.0)),
        ],
    ),
    "U": (0.62, [join(seg((0.05, 0.0), (0.05, 0.68)), arc(0.31, 0.68, 0.26, 0.32, 180, 360), seg((0.57, 0.0)))]),
    "V": (0.62, [seg((0.02, 0.0), (0.31, 1.0), (0.6, 0.0))]),
    "W": (0.84, [seg((0.02, 0.0), (0.21, 1.0), (0.42, 0.3), (0.63, 1.0), (0.82, 0.0))]),
    "Y": (0.62, [seg((0.02, 0.0), (0.31, 0.5), (0.6, 0.0)), seg((0.31, 0.5), (0.31, 1.0))]),
    "$": (
        0.6,
        [
            join(arc(0.3, 0.29, 0.23, 0.2, 25, 270), arc(0.3, 0.7, 0.25, 0.21, 90, -155)),
            seg((0.31, -0.12), (0.3, 1.12)),
        ],
    ),
    "%": (
        0.62,
        [seg((0.56, 0.0), (0.06, 1.0)), arc(0.15, 0.18, 0.11, 0.17, 90, 450), arc(0.48, 0.82, 0.11, 0.17, 90, 450)],
    ),
    "€": (0.66, [arc(0.4, 0.5, 0.32, 0.5, 55, 305), seg((0.0, 0.4), (0.46, 0.4)), seg((0.0, 0.6), (0.42, 0.6))]),
    "#": (
        0.64,
        [
            seg((0.24, 0.05), (0.16, 0.95)),
            seg((0.47, 0.05), (0.39, 0.95)),
            seg((0.03, 0.33), (0.62, 0.33)),
            seg((0.0, 0.67), (0.58, 0.67)),
        ],
    ),
    "+": (0.6, [seg((0.3, 0.28), (0.3, 0.88)), seg((0.0, 0.58), (0.6, 0.58))]),
    "!": (0.24, [seg((0.12, 0.0), (0.11, 0.7)), dot(0.11, 0.96, 0.02)]),
    "?": (
        0.56,
        [
            join(arc(0.28, 0.25, 0.24, 0.24, 160, -50), spline((0.42, 0.44), (0.28, 0.55), (0.27, 0.72))),
            dot(0.27, 0.96, 0.02),
        ],
    ),
    "&": (
        0.66,
        [
            spline(
                (0.64, 1.0),
                (0.3, 0.55),
                (0.15, 0.32),
                (0.17, 0.1),
                (0.3, 0.01),
                (0.42, 0.12),
                (0.36, 0.32),
                (0.08, 0.6),
                (0.1, 0.9),
                (0.28, 1.0),
                (0.48, 0.88),
                (0.62, 0.62),
            )
        ],
    ),
    "@": (
        0.86,
        [
            join(
                arc(0.42, 0.58, 0.13, 0.16, 20, 380),
                seg((0.54, 0.5), (0.56, 0.74)),
                spline((0.56, 0.74), (0.7, 0.76), (0.82, 0.55), (0.72, 0.28), (0.44, 0.16)),
                arc(0.43, 0.6, 0.38, 0.44, 90, 310),
            )
        ],
    ),
}


def glyph(char: str, rng: np.random.Generator) -> Glyph:
    """A stroke glyph for `char`; digits draw one of their styles."""
    if char in DIGITS:
        styles = DIGITS[char]
        return styles[int(rng.integers(len(styles)))]
    if char in SEPARATORS:
        return SEPARATORS[char]
    return MARKS[char]


def _resample(points: Stroke, step: float) -> Stroke:
    if len(points) < 2:
        return points
    lengths = np.r_[0, np.cumsum(np.hypot(*np.diff(points, axis=0).T))]
    if lengths[-1] < step:
        return points
    t = np.linspace(0, lengths[-1], max(2, int(lengths[-1] / step) + 1))
    return np.stack([np.interp(t, lengths, points[:, 0]), np.interp(t, lengths, points[:, 1])], axis=1)


def jitter(
    strokes: list[Stroke],
    rng: np.random.Generator,
    wobble: float = 0.012,
    slant: float = 0.0,
    rotate: float = 0.0,
    xscale: float = 1.0,
) -> list[Stroke]:
    """A hand-drawn instance: slanted, rotated, widened, each stroke wavering and displaced a little."""
    angle = np.radians(rotate)
    cos, sin = np.cos(angle), np.sin(angle)
    out = []
    for points in strokes:
        p = _resample(points, 0.015)
        if len(p) > 3:
            walk = np.cumsum(rng.normal(0, 1, size=p.shape), axis=0)
            walk = gaussian_filter1d(walk - walk.mean(axis=0), sigma=6, axis=0)
            scale = np.abs(walk).max() or 1.0
            p = p + walk / scale * wobble
        p = p + rng.normal(0, wobble * 0.6, size=2)
        x = (p[:, 0] + slant * (1.0 - p[:, 1])) * xscale
        y = p[:, 1]
        cx, cy = 0.3, 0.5
        out.append(np.stack([cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos], axis=1))
    return out


def mouse(strokes_px: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
    """Strokes as a mouse reports them: uneven sampling, whole-pixel positions, a pixel of tremor."""
    out = []
    for points in strokes_px:
        p = _resample(points, 2.0)
        keep = np.cumsum(rng.integers(1, 6, size=len(p)))
        keep = np.unique(np.r_[0, keep[keep < len(p)], len(p) - 1])
        p = p[keep] + rng.integers(-1, 2, size=(len(keep), 2))
        out.append(np.round(p))
    return out


def draw(strokes_px: list[Stroke], size: tuple[int, int], width: float, supersample: int = 3) -> np.ndarray:
    """Rasterise strokes (pixel coordinates) with a round pen of `width` px, antialiased: float32 mask in [0, 1]."""
    w, h = size
    s = supersample
    image = Image.new("L", (w * s, h * s))
    pen = ImageDraw.Draw(image)
    r = max(0.5, width * s / 2)
    for points in strokes_px:
        scaled = [(float(x) * s, float(y) * s) for x, y in points]
        if len(scaled) > 1:
            pen.line(scaled, fill=255, width=max(1, round(width * s)), joint="curve")
        for x, y in scaled if r > 2 else (scaled[0], scaled[-1]):
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    image = image.resize((w, h), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32) / 255.0


def bounds(strokes: list[Stroke]) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of all the points."""
    allp = np.vstack(strokes)
    return float(allp[:, 0].min()), float(allp[:, 1].min()), float(allp[:, 0].max()), float(allp[:, 1].max())
