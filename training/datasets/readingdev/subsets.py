"""The ten subset renderers: each maps (rng, index) to (encoded image, extension, text)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from training.datasets.readingdev import strokes
from training.datasets.readingdev.compose import (
    Piece,
    drawn_piece,
    handwritten_digit,
    line_mask,
    resize,
    rotate,
    shear,
    sources,
    stack_lines,
    stroke_width,
    thicken,
    typed_mask,
)
from training.datasets.readingdev.fonts import STYLES, find_fonts
from training.datasets.readingdev.paper import encode, flat_page, paint, photograph, scene, sheet

Line = tuple[np.ndarray, float, float]
Rendered = tuple[bytes, str, str]
HAND_MARKS = "".join(strokes.MARKS)
COLOURS = [(0, 140, 40), (200, 30, 30), (30, 70, 200), (230, 120, 0), (120, 40, 160), (0, 120, 130), (20, 20, 20)]


def digits(rng: np.random.Generator, low: int, high: int) -> str:
    """A whole number of low..high digits, rarely with a leading zero."""
    n = int(rng.integers(low, high + 1))
    text = "".join(str(d) for d in rng.integers(0, 10, size=n))
    if n > 1 and text[0] == "0" and rng.uniform() < 0.8:
        text = str(int(rng.integers(1, 10))) + text[1:]
    return text


def amount(rng: np.random.Generator) -> str:
    """An amount, date or time as people write them."""
    r = rng.integers
    kind = int(r(10))
    if kind == 0:
        return f"{r(0, 1000)}.{r(0, 100):02d}"
    if kind == 1:
        return f"{r(1, 1000)},{r(0, 1000):03d}" + (f",{r(0, 1000):03d}" if rng.uniform() < 0.2 else "")
    if kind == 2:
        return f"{r(1, 100)},{r(0, 1000):03d}.{r(0, 100):02d}"
    if kind == 3:
        return "-" + str(rng.choice([str(r(1, 100)), f"0.{r(1, 10)}", f"{r(1, 100)}.{r(0, 100):02d}"]))
    if kind == 4:
        return str(rng.choice(["3.14", "0.5", "2.75", f"{r(0, 10)}.{r(0, 1000)}", f"{r(0, 100)}.{r(0, 10)}"]))
    if kind == 5:
        return f"{r(1950, 2040)}-{r(1, 13):02d}-{r(1, 29):02d}"
    if kind == 6:
        year = r(1950, 2040) if rng.uniform() < 0.7 else r(0, 100)
        return f"{r(1, 13)}/{r(1, 32)}/{year}" if rng.uniform() < 0.5 else f"{r(1, 13):02d}/{r(1, 32):02d}/{year:02d}"
    if kind == 7:
        return f"{r(0, 24):02d}:{r(0, 60):02d}" + (f":{r(0, 60):02d}" if rng.uniform() < 0.2 else "")
    if kind == 8:
        return str(rng.choice([f"{r(0, 100)},{r(0, 100):02d}", f"{r(1, 10)}.{r(0, 1000):03d},{r(0, 100):02d}",
                               f"{r(1, 29):02d}.{r(1, 13):02d}.{r(1950, 2040)}"]))  # fmt: skip
    return str(rng.choice([f"{r(1, 10)}/{r(2, 10)}", f"{r(1, 50)}-{r(50, 100)}", f"{r(1, 10)}:{r(1, 10)}"]))


def short_amount(rng: np.random.Generator, most: int = 8) -> str:
    """An amount, date or time of at most `most` digits."""
    while True:
        text = amount(rng)
        if sum(c.isdigit() for c in text) <= most:
            return text


def foreign(rng: np.random.Generator, hand: bool) -> str:
    """A number with a mark that is neither a digit nor a separator, or letters alone."""
    letters = HAND_MARKS if hand else "abcdefghkmnprstuvxyzABCDEFGHKLMNPRSTUVWXYZ$%€#+&@?!"
    lower = "".join(c for c in letters if c.islower())
    upper = "".join(c for c in letters if c.isupper())
    choice = [
        "$" + digits(rng, 1, 4),
        "$" + amount(rng) if not hand else "$" + digits(rng, 1, 3) + "." + digits(rng, 2, 2),
        digits(rng, 1, 3) + "%",
        "€" + digits(rng, 1, 4),
        digits(rng, 1, 3) + "€",
        "#" + digits(rng, 1, 4),
        upper[int(rng.integers(len(upper)))] + digits(rng, 1, 4),
        digits(rng, 1, 2) + "x" + digits(rng, 1, 2),
        digits(rng, 1, 2) + "+" + digits(rng, 1, 2),
        digits(rng, 1, 3) + ("kg" if not hand else str(rng.choice(["kg", "m", "h", "k", "cm"]))),
        "".join(lower[int(i)] for i in rng.integers(len(lower), size=int(rng.integers(2, 5)))),
        digits(rng, 1, 3) + lower[int(rng.integers(len(lower)))] + digits(rng, 1, 3),
        digits(rng, 1, 3) + upper[int(rng.integers(len(upper)))] + digits(rng, 0, 2),
    ]
    return choice[int(rng.integers(len(choice)))]


def hand_style(rng: np.random.Generator, overlap: bool | None = None) -> dict:
    """How one person writes: source, pen, spacing, wobble, slant."""
    small_scans = bool(rng.uniform() < 0.15)
    threshold = float(rng.uniform(0.4, 0.55) if small_scans else rng.uniform(0.22, 0.62))
    thick = float(rng.choice([0.0, 0.0, 0.0, 0.012, 0.025])) if threshold > 0.35 and not small_scans else 0.0
    if threshold < 0.35 and not small_scans and rng.uniform() < 0.3:
        thick = -0.01
    return {
        "small_scans": small_scans,
        "scan_blur": float(rng.uniform(0.2, 0.3)),
        "aspect": float(rng.uniform(0.8, 1.25)),
        "threshold": threshold,
        "thicken": thick,
        "overlap": bool(rng.uniform() < 0.33) if overlap is None else overlap,
        "gap": float(rng.uniform(0.04, 0.45)),
        "wobble": float(rng.uniform(0.0, 0.06)),
        "sizevar": float(rng.uniform(0.0, 0.12)),
        "slant": float(rng.uniform(-0.2, 0.35)),
    }


def hand_line(text: str, rng: np.random.Generator, style: dict, height: int) -> Line:
    """A handwritten line: real digits, separators and marks drawn with a matching pen; (mask, top, base)."""
    pieces: list[Piece] = []
    pen = None
    previous = ""
    for char in text:
        if char.isdigit():
            size = round(height * (1 + rng.uniform(-1, 1) * style["sizevar"]))
            mask = handwritten_digit(int(char), size, rng, style)
            width = stroke_width(mask)
            if pen is None:
                pen = width
            elif not style["small_scans"]:  # one hand, one pen: bring each digit's stroke near the first's
                step = int(np.clip(round((pen - width) * 0.4), -3 if width > 6 else 0, 5))
                mask = thicken(mask, step) if step else mask
            piece = Piece(mask, height - mask.shape[0] + rng.normal(0, style["wobble"]) * height)
        else:
            piece = drawn_piece(char, height, (pen or height * 0.1) * rng.uniform(0.8, 1.1), rng)
        if pieces:
            if char.isdigit() and previous.isdigit():
                narrow = min(piece.mask.shape[1], pieces[-1].mask.shape[1], height * 0.6)
                if style["overlap"] and rng.uniform() < 0.45:  # boxes overlap by 0-25 % of a digit's width
                    piece.gap_before = -rng.uniform(0, 0.25) * narrow
                    piece.min_clearance = -0.08 * narrow
                elif style["overlap"] and rng.uniform() < 0.75:  # the inks touch or just cross
                    piece.clearance = rng.uniform(-0.1, 0.01) * narrow
                else:
                    piece.gap_before = height * style["gap"] * rng.uniform(0.6, 1.4)
            else:
                piece.gap_before = height * rng.uniform(0.03, 0.2)
        pieces.append(piece)
        previous = char
    return line_mask(pieces, height)


def typed_line(text: str, rng: np.random.Generator, size: int, style: str | None = None) -> Line:
    """A typed line in a font of `style` (random when None) that draws every character."""
    fonts = find_fonts()
    path = fonts.pick(rng, style or STYLES[int(rng.integers(len(STYLES)))], needs=text)
    return typed_mask(text, path, size)


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def to_height(line: Line, height: float) -> tuple[np.ndarray, float]:
    """Scale a line so its digits are `height` px tall: (mask, digit height)."""
    mask, top, base = line
    factor = height / max(1.0, base - top)
    return resize(mask, (round(mask.shape[1] * factor), round(mask.shape[0] * factor))), height


def handwritten_number(rng: np.random.Generator, text: str, height: float, style: dict | None = None) -> np.ndarray:
    """A slanted handwritten number with digits `height` px tall."""
    style = style or hand_style(rng)
    line = hand_line(text, rng, style, max(80, round(height)))
    mask, top, base = line
    return to_height((shear(mask, style["slant"]), top, base), height)[0]


def capped_height(rng: np.random.Generator, text: str, low: float, high: float, max_width: float = 1800) -> float:
    return min(log_uniform(rng, low, high), max_width / (0.75 * len(text) + 0.3))


def page_or_photo(mask: np.ndarray, rng: np.random.Generator, height: float, photo: float) -> np.ndarray:
    if rng.uniform() < photo:
        return photograph(mask, height, rng, rng.uniform(0.06, 0.25))
    return flat_page(mask, rng, height)


def render_handwritten(rng: np.random.Generator, index: int) -> Rendered:
    text = digits(rng, 1, 10)
    style = hand_style(rng, overlap=index % 3 == 0)
    small = index % 6 == 5
    height = log_uniform(rng, 18, 50) if small else capped_height(rng, text, 15, 400)
    mask = handwritten_number(rng, text, height, style)
    image = flat_page(mask, rng, height, "small-on-page" if small else "dark-on-light")
    return (*encode(image, rng), text)


def render_paper(rng: np.random.Generator, index: int) -> Rendered:
    blank = index % 12 == 11
    text = "" if blank else (digits(rng, 1, 8) if rng.uniform() < 0.85 else amount(rng))
    fraction = rng.uniform(0.04, 0.08) if index % 3 == 0 else rng.uniform(0.08, 0.3)
    mask = None if blank else handwritten_number(rng, text, 100)
    image = photograph(mask, 100, rng, fraction)
    return (*encode(image, rng, ("jpg", "jpg", "jpg", "jpg", "webp"), ("RGB", "RGB", "RGB", "L")), text)


def render_typed(rng: np.random.Generator, index: int) -> Rendered:
    text = digits(rng, 1, 10)
    scheme = ("dark-on-light", "light-on-dark", "colour-on-gradient")[index % 3]
    style = STYLES[(index // 3) % len(STYLES)]
    if scheme == "colour-on-gradient" and rng.uniform() < 0.6:
        style = "bold"
    size = round(min(log_uniform(rng, 10, 200), 2400 / len(text)))
    mask, top, base = typed_line(text, rng, size, style)
    if rng.uniform() < 0.25:
        mask = resize(mask, (round(mask.shape[1] * rng.uniform(0.75, 1.3)), mask.shape[0]))
    colour = None
    if scheme == "colour-on-gradient":
        colour = np.array(COLOURS[int(rng.integers(len(COLOURS)))], dtype=np.float32)
    image = flat_page(mask, rng, base - top, scheme, tight=rng.uniform() < 0.25, colour=colour)
    return (*encode(image, rng), text)


def render_scan(rng: np.random.Generator, index: int) -> Rendered:
    text = digits(rng, 1, 8)
    method = [Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC]
    resample = method[int(rng.integers(3))]
    if index % 2 == 0:
        src = sources()
        cells = []
        for char in text:
            pool = src.small_by_digit[int(char)]
            cells.append(src.small[pool[int(rng.integers(len(pool)))]])
            cells.append(np.zeros((8, int(rng.integers(0, 2))), np.float32))
        ink = np.hstack(cells)
        pad = rng.integers(0, 4, size=4)
        ink = np.pad(ink, ((pad[0], pad[1]), (pad[2], pad[3])))
        paper, dark = rng.uniform(190, 255), rng.uniform(0, 90)
        small = np.repeat((paper - (paper - dark) * ink)[..., None], 3, axis=2)
        factor = int(rng.integers(3, 9))
    else:
        height = rng.uniform(8, 16)
        if rng.uniform() < 0.5:
            mask = handwritten_number(rng, text, 100)
        else:
            mask, top, base = typed_line(text, rng, 140)
            mask = resize(mask, (round(mask.shape[1] * 100 / (base - top)), round(mask.shape[0] * 100 / (base - top))))
        box = Image.Resampling.BOX
        f = height / 100
        reduced = np.asarray(
            Image.fromarray(mask).resize((max(1, round(mask.shape[1] * f)), max(1, round(mask.shape[0] * f))), box)
        )
        small = flat_page(np.clip(reduced, 0, 1), rng, height)
        factor = int(rng.integers(2, 9))
    image = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8))
    image = image.resize((image.width * factor, image.height * factor), resample)
    big = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(0, 3))
    return (*encode(big, rng, ("jpg", "jpg", "jpg", "png"), ("RGB", "L")), text)


def canvas_strokes(
    text: str, rng: np.random.Generator, height: float, pen: float
) -> tuple[list[np.ndarray], float, float]:
    """Mouse- or finger-drawn glyphs in pixel coordinates: (strokes, width, height of their box)."""
    slant, xscale = rng.uniform(-0.15, 0.3), rng.uniform(0.8, 1.25)
    gap = rng.uniform(0.0, 0.4)
    x, out = 0.0, []
    for char in text:
        _, glyph_strokes = strokes.glyph(char, rng)
        drawn = strokes.jitter(glyph_strokes, rng, rng.uniform(0.005, 0.03), slant, rng.uniform(-6, 6), xscale)
        y_jitter = rng.normal(0, 0.03)
        x0 = strokes.bounds(drawn)[0]
        out += [(p - [x0, 0]) * height + [x, y_jitter * height] for p in drawn]
        x += (strokes.bounds(drawn)[2] - x0) * height + gap * height * rng.uniform(0.5, 1.5) + pen
    x0, y0, x1, y1 = strokes.bounds(out)
    return [p - [x0, y0] for p in out], x1 - x0, y1 - y0


def render_canvas(rng: np.random.Generator, index: int) -> Rendered:
    text = digits(rng, 1, 6)
    height = min(rng.uniform(100, 300), 1500 / len(text))
    pen = rng.uniform(4, 24) * max(0.6, height / 200)
    pen = float(np.clip(pen, 4, 24))
    drawn, w, h = canvas_strokes(text, rng, height, pen)
    if rng.uniform() < 0.6:
        drawn = strokes.mouse(drawn, rng)
    sizes = [(280, 280), (400, 400), (500, 300), (600, 400), (800, 400), (1000, 500), (1200, 600)]
    cw, ch = next(
        ((a, b) for a, b in sizes if a > w + 2 * pen + 20 and b > h + 2 * pen + 20), (int(w + 80), int(h + 80))
    )
    ox = rng.uniform(pen + 5, max(pen + 6, cw - w - pen - 5))
    oy = rng.uniform(pen + 5, max(pen + 6, ch - h - pen - 5))
    mask = strokes.draw([p + np.array([ox, oy]) for p in drawn], (cw, ch), pen, supersample=2)
    colour = np.array(COLOURS[6] if rng.uniform() < 0.7 else COLOURS[int(rng.integers(len(COLOURS)))], np.float32)
    if index % 2 == 0:
        image = np.zeros((ch, cw, 3), np.float32) + colour * (mask[..., None] > 0)
        return (*encode(image, rng, ("png",), ("RGBA",), alpha=mask), text)
    image = np.full((ch, cw, 3), 255.0, np.float32)
    paint(image, mask, colour, 1.0, 0, 0)
    return (*encode(image, rng, ("png", "png", "png", "jpg", "webp"), ("RGB", "RGBA", "L")), text)


def written(text: str, rng: np.random.Generator, hand: bool, height: float) -> np.ndarray:
    """The text handwritten (real digits, drawn marks) or typed, digits `height` px tall."""
    if hand:
        return handwritten_number(rng, text, height)
    return to_height(typed_line(text, rng, max(10, round(height * 1.4))), height)[0]


def render_amounts(rng: np.random.Generator, index: int) -> Rendered:
    text = amount(rng)
    height = capped_height(rng, text, 16, 250)
    mask = written(text, rng, index % 2 == 0, height)
    return (*encode(page_or_photo(mask, rng, height, 0.15), rng), text)


def render_lines(rng: np.random.Generator, index: int) -> Rendered:
    count = 2 + int(rng.uniform() < 0.4)
    texts = [digits(rng, 1, 8) if rng.uniform() < 0.75 else short_amount(rng) for _ in range(count)]
    hand = index % 2 == 0
    height = min(log_uniform(rng, 16, 160), 1500 / (0.75 * max(len(t) for t in texts) + 0.3))
    work = max(80, round(height))
    style = hand_style(rng)
    if hand:
        lines = [hand_line(t, rng, style, work) for t in texts]
    else:
        fonts = find_fonts()
        path = fonts.pick(rng, STYLES[int(rng.integers(len(STYLES)))], needs="".join(texts))
        lines = [typed_mask(t, path, round(work * 1.4)) for t in texts]
    digit_h = lines[0][2] - lines[0][1]
    block = stack_lines(lines, rng.uniform(0.05, 1.2), "left" if rng.uniform() < 0.5 else "centre", digit_h)
    if hand:
        block = shear(block, style["slant"])
    if rng.uniform() < 0.35:
        block = rotate(block, rng.uniform(-10, 10))
    mask = resize(block, (round(block.shape[1] * height / digit_h), round(block.shape[0] * height / digit_h)))
    return (*encode(page_or_photo(mask, rng, height, 0.25), rng), "\n".join(texts))


def render_foreign(rng: np.random.Generator, index: int) -> Rendered:
    hand = index % 2 == 0
    text = foreign(rng, hand)
    height = capped_height(rng, text, 16, 250)
    mask = written(text, rng, hand, height)
    return (*encode(page_or_photo(mask, rng, height, 0.15), rng), text)


def render_tilted(rng: np.random.Generator, index: int) -> Rendered:
    text = digits(rng, 1, 8)
    height = capped_height(rng, text, 16, 300)
    mask = written(text, rng, index % 2 == 0, height)
    angle = rng.uniform(0, 10) * (1 if index % 4 < 2 else -1)
    return (*encode(page_or_photo(rotate(mask, angle), rng, height, 0.2), rng), text)


NONDIGIT_MARKS = {"lower": "hecrtauxnmk", "upper": "ARVUYCEKMW", "symbol": "$%&?!#@+"}


def render_nondigit(rng: np.random.Generator, index: int) -> Rendered:
    kind = ("lower", "lower", "upper", "upper", "symbol", "symbol", "scene", "blank", "lower", "symbol")[index % 10]
    if kind == "scene":
        image = scene(rng, ("tree", "grass", "blobs")[(index // 10) % 3])
        return (*encode(image, rng, ("jpg", "png", "webp"), ("RGB",)), "")
    if kind == "blank":
        if rng.uniform() < 0.7:
            image = photograph(None, 1, rng, 0.1)
        else:
            image = sheet(int(rng.integers(28, 600)), int(rng.integers(28, 600)), rng)
        return (*encode(image, rng, ("jpg", "png"), ("RGB", "L")), "")
    marks = NONDIGIT_MARKS[kind]
    char = marks[int(rng.integers(len(marks)))]
    how = int(rng.integers(3))
    height = rng.uniform(20, 280)
    if how == 0:
        mask = to_height(typed_line(char, rng, round(height * 1.4)), height)[0]
    elif how == 1:
        mask = drawn_piece(char, 100, rng.uniform(6, 14), rng, wobble=rng.uniform(0.005, 0.03)).mask
        mask = resize(mask, (round(mask.shape[1] * height / 100), round(mask.shape[0] * height / 100)))
    else:
        pen = float(rng.uniform(4, 24))
        drawn, w, h = canvas_strokes(char, rng, max(height, 100), pen)
        drawn = strokes.mouse(drawn, rng) if rng.uniform() < 0.6 else drawn
        side = int(max(w, h) * rng.uniform(1.3, 2.0) + 2 * pen)
        offset = [(side - w) / 2 + rng.normal(0, 5), (side - h) / 2 + rng.normal(0, 5)]
        mask = strokes.draw([p + offset for p in drawn], (side, side), pen, supersample=2)
        if rng.uniform() < 0.5:
            image = np.zeros((side, side, 3), np.float32)
            return (*encode(image, rng, ("png",), ("RGBA",), alpha=mask), char)
        image = np.full((side, side, 3), 255.0, np.float32)
        paint(image, mask, np.array(COLOURS[6], np.float32), 1.0, 0, 0)
        return (*encode(image, rng, ("png", "jpg"), ("RGB", "L")), char)
    image = page_or_photo(mask, rng, height, 0.2)
    return (*encode(image, rng), char)


RENDERERS: dict[str, Callable[[np.random.Generator, int], Rendered]] = {
    "handwritten": render_handwritten,
    "paper": render_paper,
    "typed": render_typed,
    "scan": render_scan,
    "canvas": render_canvas,
    "amounts": render_amounts,
    "lines": render_lines,
    "foreign": render_foreign,
    "tilted": render_tilted,
    "nondigit": render_nondigit,
}
