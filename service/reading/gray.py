"""Stage 2, grayscale and polarity: any image mode -> float32 luminance, then bright ink on a dark ground."""

from __future__ import annotations

import numpy as np
from PIL import Image

from service.reading.decode import has_alpha


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Any mode -> float32 luminance in [0, 255]; transparency flattened onto the background the ink needs.

    A drawing on a transparent canvas has its ink only in the opaque pixels: dark ink is flattened
    onto white, light ink onto black, so the strokes stay visible whichever colour they have.
    """
    if has_alpha(image):
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


def border(gray: np.ndarray) -> np.ndarray:
    """The image's outermost pixels, all four sides."""
    return np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])


def bright_ink(gray: np.ndarray) -> np.ndarray:
    """The image with its ink brighter than its background: inverted when the border is mostly light.

    Ink rarely covers most of the border, even where a tightly cropped digit touches it.
    """
    return 255.0 - gray if border_median(gray) > 127 else gray


def border_median(gray: np.ndarray) -> float:
    """np.median of the image's border, to the bit: the middle value, or the mean of the middle two."""
    edge = border(gray)
    middle = edge.size // 2
    if edge.size % 2:
        return float(np.partition(edge, middle)[middle])
    return float(np.mean(np.partition(edge, [middle - 1, middle])[middle - 1 : middle + 1]))
