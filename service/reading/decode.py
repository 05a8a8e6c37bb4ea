"""Stage 1, decode and orient: bytes -> a PIL image, upright, at a working size."""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia
from service.reading.tuning import WORKING_SIZE

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
REDUCIBLE_MODES = {"L", "LA", "RGB", "RGBA", "I", "F"}


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Decode bytes into an image, refusing oversized ones from their header, before decoding pixels."""
    return decode_upright(data, max_pixels)[0]


def decode_upright(
    data: bytes, max_pixels: int, working_size: int = WORKING_SIZE
) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image (perhaps reduced while decoding, its longer side kept at least `working_size`) and the size
    of the image as sent once upright."""
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
            upright = (height, width) if _exif_orientation(image) in SIDEWAYS else (width, height)
            if image.format == "JPEG" and max(width, height) > working_size:
                # Let the JPEG decoder scale by 1/2, 1/4 or 1/8 while decoding, keeping the longer side at
                # least WORKING_SIZE, and decode luma only: most of a phone photo's pixels are never produced.
                scale = working_size / max(width, height)
                image.draft("L", (max(1, round(width * scale)), max(1, round(height * scale))))  # a 1200x1 strip too
            image.load()
    except (PayloadTooLarge, InvalidInput):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(f"image exceeds the decompression limit of {max_pixels} pixels") from None
    except UnidentifiedImageError:
        raise UnsupportedMedia("cannot decode the image: not a PNG, JPEG, GIF, BMP, WebP or TIFF file") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise UnsupportedMedia(f"cannot decode the image: {exc}") from None
    return image, upright


# EXIF orientations that turn the image by a quarter (transposed, rotated 90 or 270 degrees, transversed).
SIDEWAYS = {5, 6, 7, 8}


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (OSError, ValueError, SyntaxError, TypeError):
        return 1


# EXIF orientations that flip or turn the image; 1 (or no tag, or a value outside 1-8) is upright as stored.
TURNED = {2, 3, 4, 5, 6, 7, 8}


def orient(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, so a phone photo stands upright; an upright image is returned as it is."""
    if _exif_orientation(image) not in TURNED:
        return image  # exif_transpose would return a copy of it
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):
        return image  # a broken EXIF block is not worth refusing the image for


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def shrink(image: Image.Image, working_size: int = WORKING_SIZE) -> Image.Image:
    """Reduce an image larger than `working_size` by a whole factor (box filter), keeping its longer side >= it."""
    factor = max(image.size) // working_size
    if factor < 2:
        return image
    if image.mode not in REDUCIBLE_MODES:
        image = image.convert("RGBA" if has_alpha(image) else "RGB")
    return image.reduce(factor)
