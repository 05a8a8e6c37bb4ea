"""A correction's image as the service keeps it (`POST /feedback`): the pixels it analyses, and nothing else.

The image is decoded and turned upright as `/predict` and `/read` do, reduced to the working size, and encoded
again as PNG, in luminance (or with its transparency, which the ink's polarity depends on). What was kept reads
exactly as what was sent, since the stages after this one see the same pixels, while a client's trailing bytes,
EXIF block (a phone photo's location) or extra frames are not kept, and cannot make one image look like many to
the store's duplicate check. An image `/predict` (a digit) or `/read` (a number) would refuse is refused here too.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from service.reading.decode import decode_upright, has_alpha, orient, shrink
from service.reading.gray import to_grayscale
from service.reading.pipeline import lines_from_gray, mnist_from_gray
from service.reading.tuning import READ_WORKING_SIZE, WORKING_SIZE

KEPT_SIZE = max(WORKING_SIZE, READ_WORKING_SIZE)


def _storable(image: Image.Image) -> Image.Image:
    """The image in a mode PNG holds, whose grayscale (`to_grayscale`) is the original's."""
    if has_alpha(image):
        return image.convert("RGBA")
    gray = to_grayscale(image)  # whole levels for every 8-bit mode; 16-bit and float images are rounded to them
    return Image.fromarray(np.clip(np.rint(gray), 0, 255).astype(np.uint8), "L")


def kept_image(data: bytes, max_pixels: int, number: bool) -> bytes:
    """The PNG kept for a correction of `data`: a number's (`number`) or a digit's; InvalidInput (and the decoder's
    errors) where `/read` or `/predict` would refuse the image."""
    image, _ = decode_upright(data, max_pixels, KEPT_SIZE)
    kept = _storable(shrink(orient(image), KEPT_SIZE))
    gray = to_grayscale(kept)
    if number:
        lines_from_gray(gray)
    else:
        mnist_from_gray(gray)
    buffer = io.BytesIO()
    kept.save(buffer, "PNG")
    return buffer.getvalue()
