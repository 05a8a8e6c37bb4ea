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
from typing import Literal

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


def local_background(gray: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The level of the background of an image whose ink is brighter than its background, on a grid of `shape`.

    Uneven light on paper, a gradient or a coloured surface behind the ink: the image is cut into blocks of
    about 1/16 of its size; each block's lower quartile is its background (ink covers less than three
    quarters of it); the median of the 5x5 blocks around it follows smooth light without bias and ignores
    blocks inside a stroke up to two blocks wide; the result is smoothed and stretched to `shape` (a grid
    over the whole image). A clean black background gives zeros.
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
        return np.zeros(shape, dtype=np.float32)
    around = np.pad(level, 1, mode="edge")
    level = np.mean([around[r : r + rows, c : c + cols] for r in range(3) for c in range(3)], axis=0)
    # The padded grid covers a little more than the image: stretch it to the part over the image.
    covered = Image.fromarray(level.astype(np.float32), mode="F").resize(
        (shape[1], shape[0]), Image.Resampling.BILINEAR, box=(0, 0, width / block, height / block)
    )
    return np.asarray(covered, dtype=np.float32)


CONTRAST = 6  # in the noise's standard deviations: the least the ink must stand out from the background
SMOOTHING = 64  # where the ink is, is judged on means over blocks of this fraction of the image's shorter side


def reduce_blocks(
    values: np.ndarray, size: int, combine: np.ufunc, mode: Literal["constant", "edge"] = "constant"
) -> np.ndarray:
    """`combine` (np.add, np.logical_or...) over size x size blocks; one axis at a time, which is fast.

    The last row and column of blocks are padded with zeros (`mode` "constant") or the edge ("edge").
    """
    if size == 1:
        return values
    height, width = values.shape
    padded = np.pad(values, ((0, -height % size), (0, -width % size)), mode=mode)
    rows = combine.reduce(padded.reshape(-1, size, padded.shape[1]), axis=1)
    return combine.reduce(rows.reshape(rows.shape[0], -1, size), axis=2)


MASK_CELLS = 160  # masks are analysed reduced to about this many cells along their longer side


def mask_scale(shape: tuple[int, ...]) -> int:
    """The block side that reduces a mask of `shape` to about MASK_CELLS cells along its longer side."""
    return max(1, max(shape) // MASK_CELLS)


def block_means(values: np.ndarray, size: int) -> np.ndarray:
    """The mean of every size x size block (the last row and column of blocks repeat the edge)."""
    return reduce_blocks(values.astype(np.float32, copy=False), size, np.add, "edge") / np.float32(size * size)


def stretch(small: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """Blocks of `size` back to a full image of `shape`, interpolated between the blocks' centres."""
    rows, cols = small.shape
    image = Image.fromarray(small.astype(np.float32), mode="F").resize(
        (cols * size, rows * size), Image.Resampling.BILINEAR
    )
    return np.asarray(image, dtype=np.float32)[: shape[0], : shape[1]]


def running(values: np.ndarray, size: int, axis: int, accumulate: np.ufunc) -> np.ndarray:
    """The minimum or maximum (`accumulate`: np.minimum or np.maximum) over a window of `size` along `axis`.

    Centred, with the edges repeated. Van Herk / Gil-Werman: prefix and suffix extremes within blocks of
    `size` give every window's extreme from two values, so the cost does not grow with the window.
    """
    values = np.moveaxis(values, axis, -1)
    length = values.shape[-1]
    before, after = size // 2, size - 1 - size // 2
    extra = -(length + size - 1) % size
    padded = np.pad(values, [(0, 0)] * (values.ndim - 1) + [(before, after + extra)], mode="edge")
    blocks = padded.reshape(*padded.shape[:-1], -1, size)
    prefix = accumulate.accumulate(blocks, axis=-1).reshape(padded.shape)
    suffix = accumulate.accumulate(blocks[..., ::-1], axis=-1)[..., ::-1].reshape(padded.shape)
    result = accumulate(suffix[..., :length], prefix[..., size - 1 : size - 1 + length])
    return np.moveaxis(result, -1, axis)


def window_extreme(values: np.ndarray, size: int, accumulate: np.ufunc) -> np.ndarray:
    """The minimum or maximum over a size x size window around every pixel (`running` along both axes)."""
    return running(running(values, size, 0, accumulate), size, 1, accumulate)


OPENING = 5  # the background follows everything wider than this fraction of the image's shorter side


def opened_background(small: np.ndarray) -> np.ndarray:
    """The background as a morphological opening: what is left when everything narrower than a window is shaved off.

    Strokes are narrow: they go. Steps stay: the edge of a photographed sheet against a lighter table, a
    shadow's edge, where a smooth background (`local_background`) would leave a band of false ink beside
    the step. Taken on block means (`small`), whose averaging also keeps the grain from pulling it down.
    """
    size = max(3, min(small.shape) // OPENING)
    return window_extreme(window_extreme(small, size, np.minimum), size, np.maximum)


def grain(small: np.ndarray) -> float:
    """The standard deviation of the noise in block means, from differences between neighbouring blocks.

    Blocks do not overlap, so their noise is independent: the median absolute difference of a normal noise
    is 0.954 sigma. Light that varies smoothly and the few blocks of ink barely move a median of differences.
    """
    across = np.abs(np.diff(small, axis=1)).ravel()
    down = np.abs(np.diff(small, axis=0)).ravel()
    return float(np.median(np.concatenate([across, down]))) / 0.954


def ink_on_dark(gray: np.ndarray) -> np.ndarray:
    """Invert a light-background image, remove the background level, scale the ink to [0, 255].

    Which side is ink is read from the border. A perfectly even border (a clean scan, a canvas) means one
    background level. Otherwise (paper, a photo) the background is estimated under every pixel: the higher
    of `local_background` (uneven light, gradients, coloured paper) and `opened_background` (steps such as
    a sheet's edge). Where the ink is, is then read from a copy averaged over a few pixels (a small share
    of the image), which divides the grain's noise by the window's side and keeps a faint stroke at its
    level; the pixels themselves stay sharp. Values within the noise (four of its standard deviations, see
    `grain`; at least a tenth of the ink's range) are cleared, and an image whose brightest ink is within
    `CONTRAST` deviations of the background holds no digit.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127:
        gray = 255.0 - gray
        border = 255.0 - border
    if not np.ptp(border):
        gray = np.clip(gray - border[0], 0.0, None)
        background, smooth, noise = 0.0, gray, 0.0
        clean = not border[0]
    else:
        clean = False
        window = max(1, min(gray.shape) // SMOOTHING)
        small = block_means(gray, window)
        small_level = np.maximum(local_background(gray, small.shape), opened_background(small))
        small -= small_level
        # Stretched back, a step between two blocks becomes a ramp one block wide, which would leave a line of
        # false ink along a sheet's edge; each block's level is raised to its neighbours' highest first.
        gray = gray - stretch(window_extreme(small_level, 3, np.maximum), window, gray.shape)
        smooth = stretch(small, window, gray.shape)
        # Ink is the upper tail and rarely half the pixels; the border may be something else (outside a sheet).
        background, noise = float(np.median(small)), grain(small)
    peak = float(smooth.max())
    if peak - background < max(1.0, CONTRAST * noise):
        raise InvalidInput("the image holds no digit: it is blank, has no contrast or holds only noise")
    ink = gray - np.float32(background)
    if not clean:
        floor = max(NOISE_FLOOR * (peak - background), 4 * noise)
        ink[(smooth < background + floor) | (ink < floor / 2)] = 0.0
    ink *= np.float32(255.0 / (peak - background))
    return np.clip(ink, 0.0, 255.0, out=ink)


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
    scale = mask_scale(above.shape)
    region, grown = reduce_blocks(above, scale, np.logical_or), reduce_blocks(seeds, scale, np.logical_or)
    grown &= region
    for _ in range(region.size):  # bounded: each round adds at least one cell or stops
        wider = _dilate(grown) & region
        if (wider == grown).all():
            break
        grown = wider
    frame = _dilate(np.repeat(np.repeat(grown, scale, axis=0), scale, axis=1))[:height, :width]
    left = above & ~frame
    return frame if left.sum() >= 0.02 * above.sum() and left.any() else None


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's stretches of True: their row, first column and one past their last column (row-major order)."""
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def label_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A component number per run: runs on neighbouring rows that touch, corners included, share a number.

    Union-find over runs rather than pixels, so a digit costs a few hundred steps whatever its resolution.
    """
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    start, end = starts.tolist(), ends.tolist()
    bounds = np.searchsorted(rows, np.arange(int(rows[-1]) + 2)).tolist() if len(rows) else [0]
    for row in range(1, len(bounds) - 1):
        i, i_stop = bounds[row - 1], bounds[row]  # the runs of the row above
        j, j_stop = bounds[row], bounds[row + 1]
        while i < i_stop and j < j_stop:
            if start[i] <= end[j] and start[j] <= end[i]:  # ends are exclusive, so diagonal neighbours touch
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if end[i] < end[j]:
                i += 1
            else:
                j += 1
    return np.array([root(i) for i in range(len(parent))], dtype=np.int64)


SMALL = 2 * SIZE  # images up to this size (an MNIST digit, a small icon) are taken as one digit
MAX_RUNS = 20_000  # beyond this the "ink" is noise or texture, not strokes: the whole extent is used
GAP = 0.3  # of the digit's longer side: ink at most this far from it is part of it (a 5's flag, a dashed stroke)


BORDER = 0.12  # of a side: how far in from the image's border a photographed sheet's edge may run
LINE = 0.04  # of the shorter side: the most a sheet's edge is thick, on average along its length


def border_lines(box: list[np.ndarray], area: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Which pieces (boxes: top, bottom, left, right; areas in cells) are the edges of a photographed sheet.

    A sheet's edge runs along a side of the image within BORDER of it, thin (area under LINE x length) and
    often broken by the grain into dashes. Thin pieces in a side's band that run along it are its dashes
    when together they cover more than a third of that side.
    """
    height, width = shape
    top, bottom, left, right = box
    tall, wide = bottom - top, right - left
    thin = area <= LINE * min(height, width) * (tall + wide)
    lines = np.zeros(len(area), dtype=bool)
    for band, along, length, side in (
        (top < BORDER * height, wide >= 2 * tall, width, (left, right)),
        (bottom > (1 - BORDER) * height, wide >= 2 * tall, width, (left, right)),
        (left < BORDER * width, tall >= 2 * wide, height, (top, bottom)),
        (right > (1 - BORDER) * width, tall >= 2 * wide, height, (top, bottom)),
    ):
        dashes = np.flatnonzero(band & along & thin)
        covered = np.zeros(length, dtype=bool)
        for dash in dashes.tolist():
            covered[side[0][dash] : side[1][dash]] = True
        if covered.sum() > length / 3:
            lines[dashes] = True
    return lines


def digit_extent(strong: np.ndarray, ink: np.ndarray) -> tuple[int, int, int, int]:
    """The box of the digit among the ink: its heaviest connected piece (darkest and largest) and the pieces near it.

    What else an image holds (a smudge, a shadow, a photographed corner, a second character) stays out of
    the crop when it is not close to the digit. The pieces are found on a mask reduced to about MASK_CELLS cells.
    """
    whole = _extent(strong)
    assert whole is not None
    if max(strong.shape) <= SMALL:
        return whole  # already framed around one digit, whose pieces would all be within reach of each other
    scale = mask_scale(strong.shape)
    mask = reduce_blocks(strong, scale, np.logical_or)
    # Squared, so a dark stroke outweighs a wide light shadow or smudge of the same total ink.
    mass = reduce_blocks(np.where(strong, np.square(ink / np.float32(255.0)), np.float32(0.0)), scale, np.add)
    rows, starts, ends = _runs(mask)
    if len(rows) > MAX_RUNS or len(rows) < 2:
        return whole
    labels = label_runs(rows, starts, ends)
    count = int(labels.max()) + 1
    if not labels.any():
        return whole  # one piece
    summed = np.concatenate([np.zeros((mask.shape[0], 1)), np.cumsum(mass, axis=1)], axis=1)
    run_mass = summed[rows, ends] - summed[rows, starts]
    weight = np.bincount(labels, run_mass, count)
    box = [np.full(count, mask.shape[0]), np.zeros(count, int), np.full(count, mask.shape[1]), np.zeros(count, int)]
    np.minimum.at(box[0], labels, rows)
    np.maximum.at(box[1], labels, rows + 1)
    np.minimum.at(box[2], labels, starts)
    np.maximum.at(box[3], labels, ends)
    pieces = np.flatnonzero(weight)
    lines = border_lines(box, np.bincount(labels, ends - starts, count), mask.shape)
    if not lines[pieces].all():
        pieces = pieces[~lines[pieces]]
    chosen = {int(pieces[np.argmax(weight[pieces])])}
    r0, r1, c0, c1 = (int(b[next(iter(chosen))]) for b in box)
    grew = True
    while grew:
        grew = False
        reach = GAP * max(r1 - r0, c1 - c0) + 1
        for piece in pieces.tolist():
            if piece in chosen:
                continue
            gap = max(box[0][piece] - r1, r0 - box[1][piece], box[2][piece] - c1, c0 - box[3][piece])
            if gap <= reach:
                chosen.add(piece)
                r0, r1 = min(r0, int(box[0][piece])), max(r1, int(box[1][piece]))
                c0, c1 = min(c0, int(box[2][piece])), max(c1, int(box[3][piece]))
                grew = True
    inside = np.zeros_like(strong)
    inside[r0 * scale : r1 * scale, c0 * scale : c1 * scale] = strong[r0 * scale : r1 * scale, c0 * scale : c1 * scale]
    found = _extent(inside)
    return found if found is not None else whole


def crop_to_ink(ink: np.ndarray, margin: int = 2) -> np.ndarray:
    """The digit's box: its strokes above a threshold, plus the faint anti-aliased edge beside them.

    The threshold keeps compression noise far from the digit out of the box; the margin keeps the
    faint edge pixels of a clean digit (as MNIST has) in it. Ink reaching in from the image's edge
    and ink away from the digit's own strokes (`digit_extent`) are left out.
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
    strong = above & (neighbours > 3)
    if not strong.any():
        raise InvalidInput("the image holds no digit: no ink found")
    top, bottom, left, right = digit_extent(strong, ink)
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


STROKE_QUANTILE = 75  # of the digit's ink pixels: where its strokes' cores are, which MNIST has at full white
FULL = 0.8 * 255  # strokes at least this bright are left as they are (an MNIST digit comes through unchanged)


def full_strength(digit: np.ndarray) -> np.ndarray:
    """Brighten faint ink so the strokes' cores are white, as in MNIST; ink already there is left as it is.

    Faint pencil, grey on grey, or a thin line shrunk to the 20 px box all reach the model at a fraction of
    the brightness it was trained on. The strokes' level is read from the inked pixels' upper quantile
    (anti-aliased edges are the lower part), so one bright speck does not set it.
    """
    inked = digit[digit > INK_THRESHOLD * float(digit.max(initial=0.0))]
    if inked.size == 0:
        return digit
    rank = (inked.size - 1) * STROKE_QUANTILE // 100
    level = float(np.partition(inked, rank)[rank])
    if level >= FULL or level <= 0.0:
        return digit
    return np.minimum(digit * (255.0 / level), 255.0)


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
    digit = full_strength(fit_box(crop_to_ink(ink_on_dark(gray))))
    return center_by_mass(digit) / 255.0


def mnist_from_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes -> 28x28 float32 in [0, 1], ready for the MNIST models."""
    return mnist_from_gray(to_grayscale(shrink(orient(decode_image(data, max_pixels)))))
