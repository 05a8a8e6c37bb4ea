"""Surfaces and cameras: flat pages, a phone photo of a sheet on a desk, small scenes, and the file encoders.

Images are float32 RGB arrays (H, W, 3) in 0..255 until `encode` writes them.
"""

from __future__ import annotations

import colorsys
import io

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from training.datasets.readingdev.compose import resize


def smooth_noise(shape: tuple[int, int], cells: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field with about `cells` bumps across the larger side, roughly unit variance."""
    h, w = shape
    gh, gw = max(2, round(cells * h / max(h, w)) + 2), max(2, round(cells * w / max(h, w)) + 2)
    grid = rng.normal(0, 1, size=(gh, gw)).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.Resampling.BICUBIC))


def blur_big(field: np.ndarray, sigma: float) -> np.ndarray:
    """A wide Gaussian blur done at reduced resolution (fast)."""
    h, w = field.shape
    f = max(1, int(sigma / 4))
    small = resize(field, (max(2, w // f), max(2, h // f))) if f > 1 else field
    small = gaussian_filter(small, sigma / f)
    return np.asarray(Image.fromarray(small.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR))


def light_colour(rng: np.random.Generator, saturation: tuple[float, float] = (0.05, 0.35)) -> np.ndarray:
    """A light colour of random hue."""
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(0.86, 1.0))
    return np.array([r, g, b]) * 255


def gradient(h: int, w: int, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A linear (or radial) blend from one colour to another across the image."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.uniform() < 0.25:
        t = np.hypot((xx - rng.uniform(0, w)) / w, (yy - rng.uniform(0, h)) / h) / 1.2
    else:
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / max(1.0, abs(w * np.cos(angle)) + abs(h * np.sin(angle)))
        t = t - t.min()
    t = np.clip(t / max(float(t.max()), 1e-6), 0, 1)[..., None]
    return (first * (1 - t) + second * t).astype(np.float32)


INKS = {
    "black": (15, 15, 20),
    "ballpoint": (25, 40, 125),
    "pencil": (75, 75, 82),
    "felt": (5, 5, 5),
    "bluefelt": (10, 40, 160),
    "red": (190, 25, 30),
}


def ink_colour(rng: np.random.Generator, kinds: tuple[str, ...] = tuple(INKS)) -> np.ndarray:
    """A pen colour, a little off its nominal value."""
    base = np.array(INKS[kinds[int(rng.integers(len(kinds)))]], dtype=np.float32)
    return np.clip(base + rng.normal(0, 8, 3), 0, 255)


def paint(background: np.ndarray, mask: np.ndarray, colour: np.ndarray, strength: float, y: int, x: int) -> None:
    """Lay ink (mask x strength) of `colour` onto the background in place, top-left corner at (y, x)."""
    h, w = mask.shape
    region = background[y : y + h, x : x + w]
    a = (mask[: region.shape[0], : region.shape[1]] * strength)[..., None]
    region[...] = region * (1 - a) + colour * a


def flat_page(
    mask: np.ndarray,
    rng: np.random.Generator,
    digit_height: float,
    scheme: str = "dark-on-light",
    tight: bool = False,
    colour: np.ndarray | None = None,
) -> np.ndarray:
    """The ink on a flat page (screen, scan, plain paper) with random margins; schemes:
    dark-on-light, light-on-dark, colour-on-gradient, small-on-page."""
    h, w = mask.shape
    if scheme == "small-on-page":
        page_w = int(rng.uniform(max(w * 1.6, 500), max(w * 2.0, 1400)))
        page_h = int(rng.uniform(max(h * 2.5, 400), max(h * 3.0, 1100)))
        top, left = int(rng.uniform(0.05, 0.8) * (page_h - h)), int(rng.uniform(0.05, 0.8) * (page_w - w))
    elif tight:
        top, left = int(rng.integers(0, 3)), int(rng.integers(0, 3))
        page_h, page_w = h + top + int(rng.integers(0, 3)), w + left + int(rng.integers(0, 3))
    else:
        m = rng.uniform(0.05, 1.2, size=4) * digit_height + 1
        if rng.uniform() < 0.3:
            m = m * rng.uniform(1.5, 4.0)
        top, left = int(m[0]), int(m[1])
        page_h, page_w = h + top + int(m[2]), w + left + int(m[3])
    if scheme == "light-on-dark":
        base = np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.6), rng.uniform(0.0, 0.3))) * 255
        page = np.broadcast_to(base, (page_h, page_w, 3)).astype(np.float32)
        ink = np.array(light_colour(rng, (0.0, 0.3)))
    elif scheme == "colour-on-gradient":
        page = gradient(page_h, page_w, light_colour(rng), light_colour(rng), rng)
        r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.7, 1.0), rng.uniform(0.45, 0.85))
        ink = np.array([r, g, b]) * 255
    else:
        tone = rng.uniform(215, 255)
        tint = rng.normal(0, 4, 3) if rng.uniform() < 0.5 else np.zeros(3)
        page = np.broadcast_to(np.clip(tone + tint, 0, 255), (page_h, page_w, 3)).astype(np.float32).copy()
        if rng.uniform() < 0.2:
            page = gradient(page_h, page_w, page[0, 0], np.clip(page[0, 0] - rng.uniform(10, 40), 0, 255), rng)
        ink = ink_colour(rng)
    page = np.array(page, dtype=np.float32)
    colour = colour if colour is not None else ink
    strength = rng.uniform(0.75, 1.0) if rng.uniform() < 0.8 else rng.uniform(0.4, 0.75)
    paint(page, mask, colour, strength, top, left)
    if rng.uniform() < 0.4:
        page += rng.normal(0, rng.uniform(1, 4), page.shape[:2])[..., None]
    return np.clip(page, 0, 255)


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """PIL's PERSPECTIVE coefficients that map output points `dst` to input points `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)))


def desk(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """What lies under the sheet: dark wood, grey, or a coloured surface."""
    kind = rng.choice(["wood", "grey", "colour"])
    if kind == "wood":
        base = np.array([rng.uniform(55, 120), rng.uniform(32, 75), rng.uniform(18, 45)])
        yy = np.mgrid[0:h, 0:w][0].astype(np.float32)
        warp = smooth_noise((h, w), 4, rng) * rng.uniform(10, 30)
        grain = np.sin((yy + warp) / rng.uniform(3, 9)) * 0.5 + smooth_noise((h, w), 40, rng) * 0.3
        shade = 1 + 0.12 * grain + 0.08 * smooth_noise((h, w), 3, rng)
        surface = base * shade[..., None]
    elif kind == "grey":
        tone = rng.uniform(70, 170)
        surface = np.full((h, w, 3), tone, np.float32) * (1 + 0.05 * smooth_noise((h, w), 6, rng))[..., None]
    else:
        r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.7))
        surface = np.array([r, g, b]) * 255 * (1 + 0.06 * smooth_noise((h, w), 8, rng))[..., None]
    surface = surface + rng.normal(0, 3, (h, w))[..., None]
    return np.clip(surface, 0, 255).astype(np.float32)


def sheet(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A sheet of paper: white to cream, fibres and grain, sometimes ruled or squared."""
    tone = rng.uniform(225, 252)
    tint = np.array([0, rng.uniform(-4, 2), rng.uniform(-12, 2)])
    fibres = smooth_noise((h, w), 60, rng) * rng.uniform(1, 3) + smooth_noise((h, w), 6, rng) * rng.uniform(1, 4)
    page = (tone + tint)[None, None, :] + fibres[..., None]
    kind = rng.uniform()
    if kind < 0.25:
        step = h * rng.uniform(0.035, 0.06)
        line = np.array([rng.uniform(120, 170), rng.uniform(160, 200), rng.uniform(200, 235)])
        y = rng.uniform(0, step)
        while y < h:
            page[int(y) : int(y) + max(1, h // 600)] = page[int(y) : int(y) + max(1, h // 600)] * 0.4 + line * 0.6
            y += step
    elif kind < 0.4:
        step = h * rng.uniform(0.025, 0.04)
        line = np.array([rng.uniform(150, 190), rng.uniform(170, 205), rng.uniform(200, 230)])
        thick = max(1, h // 900)
        for axis_len, axis in ((h, 0), (w, 1)):
            pos = rng.uniform(0, step)
            while pos < axis_len:
                p = int(pos)
                if axis == 0:
                    page[p : p + thick] = page[p : p + thick] * 0.6 + line * 0.4
                else:
                    page[:, p : p + thick] = page[:, p : p + thick] * 0.6 + line * 0.4
                pos += step
    return page.astype(np.float32)


def photograph(
    mask: np.ndarray | None,
    digit_height: float,
    rng: np.random.Generator,
    fraction: float,
    ink_kinds: tuple[str, ...] = tuple(INKS),
) -> np.ndarray:
    """A phone photo of the ink (whose digits are `digit_height` px tall) on a sheet on a desk, the digits
    `fraction` of the photo's height tall; a blank sheet when `mask` is None."""
    sizes = [(1280, 960), (960, 1280), (1024, 768), (768, 1024), (1200, 900), (900, 1200), (800, 600), (720, 960)]
    W, H = sizes[int(rng.integers(len(sizes)))]  # noqa: N806 - image sizes
    sheet_w, sheet_h = int(W * rng.uniform(0.8, 1.15)), int(H * rng.uniform(0.8, 1.15))
    paper = sheet(sheet_h, sheet_w, rng)
    # where the sheet's corners land in the photo: shifted so that the desk shows at some edges
    cx, cy = W / 2 + rng.uniform(-0.12, 0.12) * W, H / 2 + rng.uniform(-0.12, 0.12) * H
    half = np.array([sheet_w, sheet_h]) / 2 * rng.uniform(0.85, 1.0)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half + [cx, cy]
    corners += rng.normal(0, 0.025, size=(4, 2)) * [W, H]
    angle = np.radians(rng.uniform(-6, 6))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = (corners - [cx, cy]) @ rot.T + [cx, cy]
    src = np.array([[0, 0], [sheet_w, 0], [sheet_w, sheet_h], [0, sheet_h]], dtype=float)
    coeffs = _perspective_coeffs(corners, src)
    if mask is not None:
        forward = np.linalg.inv(np.append(coeffs, 1.0).reshape(3, 3))  # sheet -> photo
        scale = min(fraction * H / digit_height, 0.8 * sheet_w / mask.shape[1], 0.8 * sheet_h / mask.shape[0])
        for attempt in range(60):
            ih, iw = mask.shape[0] * scale, mask.shape[1] * scale
            y, x = rng.uniform(0, max(1.0, sheet_h - ih)), rng.uniform(0, max(1.0, sheet_w - iw))
            box = np.array([[x, y, 1], [x + iw, y, 1], [x + iw, y + ih, 1], [x, y + ih, 1]]) @ forward.T
            px, py = box[:, 0] / box[:, 2], box[:, 1] / box[:, 2]
            if px.min() > 0.04 * W and px.max() < 0.96 * W and py.min() > 0.04 * H and py.max() < 0.96 * H:
                break
            if attempt % 10 == 9:
                scale *= 0.85
        ink = resize(mask, (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale))))
        ink = ink * np.clip(1 + 0.15 * smooth_noise(ink.shape, 30, rng), 0.6, 1.0)
        strength = rng.uniform(0.8, 1.0) if rng.uniform() < 0.85 else rng.uniform(0.55, 0.8)
        paint(paper, ink, ink_colour(rng, ink_kinds), strength, int(y), int(x))
    warped = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).transform(
        (W, H), Image.Transform.PERSPECTIVE, coeffs, resample=Image.Resampling.BICUBIC
    )
    cover = Image.new("L", (sheet_w, sheet_h), 255).transform(
        (W, H), Image.Transform.PERSPECTIVE, coeffs, resample=Image.Resampling.BILINEAR
    )
    a = (np.asarray(cover, dtype=np.float32) / 255.0)[..., None]
    photo = np.asarray(warped, dtype=np.float32) * a + desk(H, W, rng) * (1 - a)
    # light: a gradient, vignetting, a soft shadow of a hand or the phone, a colour cast
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.05, 0.3) * ((xx / W - 0.5) * np.cos(angle) + (yy / H - 0.5) * np.sin(angle))
    light *= 1 - rng.uniform(0.05, 0.35) * (((xx / W - 0.5) ** 2 + (yy / H - 0.5) ** 2) * 2)
    if rng.uniform() < 0.7:
        shape = Image.new("L", (W, H))
        pen = ImageDraw.Draw(shape)
        side = int(rng.integers(4))
        ex, ey = [(rng.uniform(0, W), -0.1 * H), (1.1 * W, rng.uniform(0, H)), (rng.uniform(0, W), 1.1 * H)][side % 3]
        if side == 3:
            ex, ey = -0.1 * W, rng.uniform(0, H)
        rx, ry = rng.uniform(0.15, 0.45) * W, rng.uniform(0.15, 0.45) * H
        pen.ellipse((ex - rx, ey - ry, ex + rx, ey + ry), fill=255)
        soft = blur_big(np.asarray(shape, dtype=np.float32) / 255.0, rng.uniform(0.03, 0.1) * W)
        light *= 1 - rng.uniform(0.2, 0.5) * soft
    cast = 1 + rng.normal(0, 0.03, 3)
    photo = photo * light[..., None] * cast * rng.uniform(0.85, 1.1)
    photo = gaussian_filter(photo, (rng.uniform(0.3, 1.6), rng.uniform(0.3, 1.6), 0))
    photo += rng.normal(0, rng.uniform(1, 4), photo.shape)
    return np.clip(photo, 0, 255).astype(np.float32)


def scene(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A small photo-like scene with no writing: a tree, grass, or soft colour blobs."""
    w, h = int(rng.integers(120, 640)), int(rng.integers(120, 640))
    if kind == "tree":
        sky = gradient(h, w, np.array([90, 150, 225.0]), np.array([195, 220, 245.0]), rng)
        clouds = np.clip(smooth_noise((h, w), 5, rng), 0, None)[..., None] * rng.uniform(20, 60)
        image = np.clip(sky + clouds, 0, 255)
        horizon = int(h * rng.uniform(0.65, 0.85))
        ground = np.array([rng.uniform(50, 90), rng.uniform(100, 140), rng.uniform(30, 60)])
        image[horizon:] = ground * (1 + 0.15 * smooth_noise((h - horizon, w), 40, rng))[..., None]
        tx, trunk_w = w * rng.uniform(0.3, 0.7), w * rng.uniform(0.03, 0.08)
        trunk = Image.new("L", (w, h))
        ImageDraw.Draw(trunk).polygon(
            [(tx - trunk_w, horizon + h * 0.05), (tx + trunk_w, horizon + h * 0.05), (tx + trunk_w * 0.5, h * 0.35),
             (tx - trunk_w * 0.5, h * 0.35)], fill=255)  # fmt: skip
        bark = np.array([rng.uniform(60, 100), rng.uniform(40, 65), rng.uniform(20, 35)])
        bark = bark * (1 + 0.2 * smooth_noise((h, w), 60, rng))[..., None]
        a = gaussian_filter(np.asarray(trunk, np.float32) / 255.0, 0.8)[..., None]
        image = image * (1 - a) + bark * a
        crown = Image.new("L", (w, h))
        pen = ImageDraw.Draw(crown)
        top, low = h * rng.uniform(0.05, 0.15), h * rng.uniform(0.4, 0.55)
        for _ in range(int(rng.integers(12, 30))):
            bx, by = tx + rng.normal(0, w * 0.12), rng.uniform(top, low)
            r = w * rng.uniform(0.05, 0.13)
            pen.ellipse((bx - r, by - r * rng.uniform(0.7, 1.1), bx + r, by + r), fill=255)
        a = gaussian_filter(np.asarray(crown, np.float32) / 255.0, 1.2)[..., None]
        leaves = np.array([rng.uniform(25, 70), rng.uniform(85, 150), rng.uniform(20, 55)])
        light = 1 + 0.25 * smooth_noise((h, w), 50, rng) + 0.2 * smooth_noise((h, w), 6, rng)
        image = image * (1 - a) + leaves * np.clip(light, 0.4, 1.6)[..., None] * a
        image = gaussian_filter(image, (0.7, 0.7, 0))
    elif kind == "grass":
        image = np.zeros((h, w, 3), np.float32) + np.array([60, 95, 40.0])
        layer = Image.fromarray(image.astype(np.uint8))
        pen = ImageDraw.Draw(layer)
        for _ in range(int(w * h / 60)):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            length = rng.uniform(5, 20)
            lean = rng.normal(0, 0.3)
            colour = (int(rng.uniform(30, 110)), int(rng.uniform(90, 190)), int(rng.uniform(20, 70)))
            pen.line([(x, y), (x + lean * length, y - length)], fill=colour, width=int(rng.integers(1, 3)))
        image = gaussian_filter(np.asarray(layer, dtype=np.float32), (0.6, 0.6, 0))
    else:
        image = np.zeros((h, w, 3), np.float32) + light_colour(rng, (0.1, 0.6))
        for _ in range(int(rng.integers(3, 8))):
            blob = Image.new("L", (w, h))
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.4) * min(w, h)
            ImageDraw.Draw(blob).ellipse((x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r), fill=255)
            a = blur_big(np.asarray(blob, np.float32) / 255.0, r * 0.4)[..., None]
            r_, g_, b_ = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.3, 0.9), rng.uniform(0.4, 1.0))
            image = image * (1 - a) + np.array([r_, g_, b_]) * 255 * a
    image += rng.normal(0, 2, image.shape)
    return np.clip(image, 0, 255).astype(np.float32)


def encode(
    image: np.ndarray,
    rng: np.random.Generator,
    formats: tuple[str, ...] = ("png", "jpg", "webp"),
    modes: tuple[str, ...] = ("RGB", "L", "RGBA"),
    alpha: np.ndarray | None = None,
) -> tuple[bytes, str]:
    """Write the image as one of `formats` in one of `modes`: (bytes, extension). `alpha` (0..1) is the
    transparency for RGBA (opaque when None)."""
    fmt = formats[int(rng.integers(len(formats)))]
    mode = modes[int(rng.integers(len(modes)))]
    if fmt == "jpg" and mode == "RGBA":
        mode = "RGB"
    pil = Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8), "RGB")
    if mode == "L":
        pil = pil.convert("L")
    elif mode == "RGBA":
        a = np.full(image.shape[:2], 255, np.uint8) if alpha is None else (np.clip(alpha, 0, 1) * 255).astype(np.uint8)
        pil = pil.convert("RGBA")
        pil.putalpha(Image.fromarray(a))
    buffer = io.BytesIO()
    if fmt == "jpg":
        pil.save(buffer, "JPEG", quality=int(rng.integers(45, 96)))
    elif fmt == "webp":
        if rng.uniform() < 0.2:
            pil.save(buffer, "WEBP", lossless=True)
        else:
            pil.save(buffer, "WEBP", quality=int(rng.integers(50, 96)), method=4)
    else:
        pil.save(buffer, "PNG")
    return buffer.getvalue(), fmt
