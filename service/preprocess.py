"""Images people send -> the 28x28 float32 input MNIST models expect. Pure functions, no Flask.

MNIST digits were made by scaling each digit's bounding box so its longer side is 20 px (keeping
the aspect ratio, with anti-aliasing) and pasting it into a 28x28 field so that its centre of mass
is at the centre, bright ink on a black background. `mnist_from_image` repeats those steps on any
image: a photo of ink on paper, a canvas drawing with a transparent background, or an image that
already is an MNIST digit (which comes through essentially unchanged).
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

SIZE = 28
BOX = 20
# Larger images are reduced to about this longer side before any per-pixel work: a digit that is to end up
# 20 px tall loses nothing, and a 12-megapixel photo costs milliseconds instead of a second.
WORKING_SIZE = 400
NOISE_FLOOR = 0.1  # of the ink's range; applied only when the background is not clean
INK_THRESHOLD = 0.05  # of the ink's range; lighter pixels do not count as the digit's extent
IMAGE_MEDIA_TYPES = {
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/gif",
    "image/bmp",
    "image/x-ms-bmp",
    "image/webp",
    "image/tiff",
}


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode bytes into an image, refusing oversized ones from their header, before decoding pixels."""
    if not data:
        raise InvalidInput("the image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise PayloadTooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
            image.seek(0)  # the first frame of an animation or a multi-page TIFF
            if image.format == "JPEG" and max(width, height) > WORKING_SIZE:
                # Let the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding, keeping the longer side at
                # least WORKING_SIZE, and decode luma only: most of a phone photo's pixels are never produced.
                scale = WORKING_SIZE / max(width, height)
                image.draft("L", (round(width * scale), round(height * scale)))
            image.load()
    except (PayloadTooLarge, InvalidInput):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(f"image exceeds the decompression limit of {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise UnsupportedMedia("cannot decode the image: not a PNG, JPEG, GIF, BMP, WebP or TIFF file") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise UnsupportedMedia(f"cannot decode the image: {exc}") from None
    return image


def orient(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, so a phone photo stands upright."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):
        return image  # a broken EXIF block is not worth refusing the image for


REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "I", "F"}


def shrink(image: Image.Image, working_size: int = WORKING_SIZE) -> Image.Image:
    """Reduce an image larger than `working_size` by a whole factor (box filter), keeping its longer side >= it."""
    factor = max(image.size) // working_size
    if factor < 2:
        return image
    if image.mode not in REDUCIBLE_MODES:
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image.reduce(factor)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Any mode -> float32 luminance in [0, 255]; transparency flattened onto the background the ink needs.

    A drawing on a transparent canvas has its ink only in the opaque pixels: dark ink is flattened
    onto white, light ink onto black, so the strokes stay visible whichever colour they have.
    """
    if _has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3] / 255.0
        luminance = rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114
        weight = alpha.sum()
        ink_level = float((luminance * alpha).sum() / weight) if weight else 0.0
        background = 255.0 if ink_level < 128 else 0.0
        return luminance * alpha + background * (1.0 - alpha)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        values = np.asarray(image, dtype=np.float32)
        return values / 257.0 if values.max(initial=0) > 255 else values
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        return values * 255.0 if values.max(initial=0) <= 1.0 else np.clip(values, 0, 255)
    if image.mode == "1":
        return np.asarray(image.convert("L"), dtype=np.float32)
    if image.mode != "L":
        image = image.convert("RGB").convert("L")  # CMYK, YCbCr, P, LAB... all through RGB
    return np.asarray(image, dtype=np.float32)


def local_background(gray: np.ndarray) -> np.ndarray:
    """The level of the background under every pixel of an image whose ink is brighter than its background.

    Uneven light on paper, a gradient or a coloured surface behind the ink: the image is cut into blocks of
    about 1/16 of its size; each block's lower quartile is its background (ink covers less than three
    quarters of it); the median of the 5x5 blocks around it follows smooth light without bias and ignores
    blocks inside a stroke up to two blocks wide; the result is smoothed and stretched back to full size.
    A clean black background gives zeros.
    """
    height, width = gray.shape
    block = max(4, min(height, width) // 16)
    padded = np.pad(gray, ((0, -height % block), (0, -width % block)), mode="edge")
    rows, cols = padded.shape[0] // block, padded.shape[1] // block
    blocks = padded.reshape(rows, block, cols, block).transpose(0, 2, 1, 3).reshape(rows, cols, block * block)
    level = np.percentile(blocks, 25, axis=2)
    around = np.pad(level, 2, mode="edge")
    level = np.median([around[r : r + rows, c : c + cols] for r in range(5) for c in range(5)], axis=0)
    if not level.any():
        return np.zeros_like(gray)
    around = np.pad(level, 1, mode="edge")
    level = np.mean([around[r : r + rows, c : c + cols] for r in range(3) for c in range(3)], axis=0)
    full = Image.fromarray(level.astype(np.float32), mode="F").resize(
        (cols * block, rows * block), Image.Resampling.BILINEAR
    )
    return np.asarray(full, dtype=np.float32)[:height, :width]


def ink_on_dark(gray: np.ndarray) -> np.ndarray:
    """Invert a light-background image, remove the background level, scale the ink to [0, 255].

    Which side is ink is read from the border. The background level is then removed under every pixel
    (`local_background`: uneven light, gradients, coloured paper). Where the background was not clean
    black (paper, a photo), values within its noise (four standard deviations, read from the image's lower
    quantiles; at least a tenth of the ink's range) are cleared.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255.0 - gray
        border = 255.0 - border
    # A perfectly even border (a clean scan, a canvas) means one level: nothing to estimate.
    level = np.full_like(gray, border[0]) if not np.ptp(border) else local_background(gray)
    clean = not level.any() and not np.median(border)
    gray = np.clip(gray - level, 0.0, None)
    if clean:
        background, spread = 0.0, 0.0
    else:
        # The background's level and noise from the image's lower quantiles: ink is the upper tail and
        # rarely half the pixels, and the border may be something else (outside a photographed sheet).
        p10, p50 = np.percentile(gray, [10, 50])
        background, spread = float(p50), float(p50 - p10) / 1.2816  # a normal noise's p50 - p10 in sigmas
    peak = float(gray.max())
    if peak - background < 1.0:
        raise InvalidInput("the image holds no digit: it is blank or has no contrast")
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)
    if not clean:
        ink[ink < max(NOISE_FLOOR, 4 * spread / (peak - background))] = 0.0
    return ink * 255.0


def _extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


EDGE_SHARE = 0.2  # of one side of the image: ink along more of it than this is a sheet's edge or a desk, not a digit


def _dilate(mask: np.ndarray) -> np.ndarray:
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def reaching_in_from_the_edge(above: np.ndarray) -> np.ndarray | None:
    """The "ink" that reaches in from a long stretch of the image's edge: a photographed sheet's edge, the desk
    around it, a shadow. A digit that touches the edge touches it over a stroke's width, not a third of a side.

    Grown from those stretches through the ink on a reduced mask (the blocks' maximum, so thin lines stay
    connected), then stretched back. None when no side qualifies, or when it would leave almost no ink.
    """
    height, width = above.shape
    band = max(2, round(0.04 * min(height, width)))  # a sheet's edge runs near the border, rarely on it
    seeds = np.zeros_like(above)
    for rows, cols, along in (
        (slice(0, band), slice(None), 0),
        (slice(height - band, None), slice(None), 0),
        (slice(None), slice(0, band), 1),
        (slice(None), slice(width - band, None), 1),
    ):
        strip = above[rows, cols]
        if strip.any(axis=along).mean() > EDGE_SHARE:
            seeds[rows, cols] = strip
    if not seeds.any():
        return None
    scale = max(1, max(height, width) // 160)
    padded = (-height % scale, -width % scale)

    def reduce(mask: np.ndarray) -> np.ndarray:
        mask = np.pad(mask, ((0, padded[0]), (0, padded[1])))
        blocks = mask.reshape(mask.shape[0] // scale, scale, mask.shape[1] // scale, scale)
        return np.asarray(blocks.any(axis=(1, 3)), dtype=bool)

    region, grown = reduce(above), reduce(seeds)
    grown &= region
    for _ in range(region.size):  # bounded: each round adds at least one cell or stops
        wider = _dilate(grown) & region
        if (wider == grown).all():
            break
        grown = wider
    frame = _dilate(np.repeat(np.repeat(grown, scale, axis=0), scale, axis=1))[:height, :width]
    left = above & ~frame
    return frame if left.sum() >= 0.02 * above.sum() and left.any() else None


def crop_to_ink(ink: np.ndarray, margin: int = 2) -> np.ndarray:
    """The bounding box of the ink: strokes above a threshold, plus the faint anti-aliased edge beside them.

    The threshold keeps compression noise far from the digit out of the box; the margin keeps the
    faint edge pixels of a clean digit (as MNIST has) in it.
    """
    above = ink > INK_THRESHOLD * 255
    frame = reaching_in_from_the_edge(above)
    if frame is not None:
        ink = np.where(frame, 0.0, ink)
        above &= ~frame
    # A stroke pixel has a stroke neighbour; a lone speck of noise does not.
    height, width = above.shape
    padded = np.pad(above, 1).astype(np.uint8)
    neighbours = np.zeros((height, width), dtype=np.uint8)
    for dr in range(3):
        for dc in range(3):
            neighbours += padded[dr : dr + height, dc : dc + width]
    strong = _extent(above & (neighbours > 3))
    if strong is None:
        raise InvalidInput("the image holds no digit: no ink found")
    top, bottom, left, right = strong
    top, left = max(top - margin, 0), max(left - margin, 0)
    window = ink[top : bottom + margin, left : right + margin]
    inner = _extent(window > 0)
    assert inner is not None  # the window holds the strong pixels, which are above 0
    inner_top, inner_bottom, inner_left, inner_right = inner
    return window[inner_top:inner_bottom, inner_left:inner_right]


def fit_box(digit: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio (a digit already that size is kept)."""
    height, width = digit.shape
    if max(height, width) == box:
        return digit
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(digit.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 255.0)


def center_by_mass(digit: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Paste into a size x size field so the centre of mass lands on the centre pixel."""
    height, width = digit.shape
    total = float(digit.sum())
    rows, cols = np.indices(digit.shape)
    com_row = float((rows * digit).sum() / total) if total else (height - 1) / 2
    com_col = float((cols * digit).sum() / total) if total else (width - 1) / 2
    # MNIST puts the centre of mass at (14, 14) in pixel-index coordinates.
    top = round(size / 2 - com_row)
    left = round(size / 2 - com_col)
    top = min(max(top, 0), size - height)
    left = min(max(left, 0), size - width)
    field = np.zeros((size, size), dtype=np.float32)
    field[top : top + height, left : left + width] = digit
    return field


def mnist_from_gray(gray: np.ndarray) -> np.ndarray:
    """Grayscale [0, 255] of any size -> 28x28 float32 in [0, 1], formatted as MNIST is."""
    digit = fit_box(crop_to_ink(ink_on_dark(gray)))
    return center_by_mass(digit) / 255.0


def mnist_from_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes -> 28x28 float32 in [0, 1], ready for the MNIST models."""
    return mnist_from_gray(to_grayscale(shrink(orient(decode_image(data, max_pixels)))))
