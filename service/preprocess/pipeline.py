"""The stages in order: encoded bytes -> 28x28 float32 in [0, 1], formatted as MNIST is."""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.preprocess.background import window_extreme
from service.preprocess.decode import decode_image, orient, shrink
from service.preprocess.fit import center_by_mass, fit_box, full_strength
from service.preprocess.gray import to_grayscale
from service.preprocess.ink import ink_on_dark
from service.preprocess.pieces import crop_to_ink, reaching_in_from_the_edge
from service.preprocess.tuning import FILLS, INK_THRESHOLD, INKED, OPENING, REACH, RESTORED


def find_digit(gray: np.ndarray) -> np.ndarray:
    """The digit's ink, cropped to its box, from a grayscale image [0, 255] of any size.

    The first look reads a photo's background with a window a fifth of the image wide. A digit that fills its
    image (cropped tight, zoomed onto: its crop spans the image and its ink covers a good share of it, where a
    photo whose sheet's edges widen the crop is mostly paper) can have strokes that wide, which that window
    takes for background and hollows out. It gets a second look with a window as wide as its strokes can be,
    whose ink is taken only near the strokes the first look found: it may restore a stroke's inside, never add
    ink elsewhere (the uneven light it follows less closely). A digit that does not fill its image is in a
    photo, where ink reaching in from a long stretch of the frame is a sheet's edge or the desk: left out.
    """
    narrow = min(gray.shape) // OPENING
    try:
        ink = ink_on_dark(gray)
        digit = crop_to_ink(ink)
    except InvalidInput:
        # No ink, or none above the noise: the first look may have taken a digit that is the whole image (a 1
        # cropped tight) for background. Blank paper and grain are refused by the second look too.
        return crop_to_ink(ink_on_dark(gray, round(REACH * max(gray.shape))))
    reach = round(REACH * max(digit.shape))
    spans = digit.shape[0] >= FILLS * gray.shape[0] or digit.shape[1] >= FILLS * gray.shape[1]
    if not spans:
        return _without_sheet_edges(ink, digit)
    if reach <= narrow:
        return digit
    try:
        wide = ink_on_dark(gray, reach)
    except InvalidInput:
        return digit
    inked = ink > INK_THRESHOLD * 255
    both = np.where(
        window_extreme(inked.astype(np.float32), max(3, narrow), np.maximum) > 0, np.maximum(ink, wide), ink
    )
    if np.mean(inked) < INKED and np.mean(both > INK_THRESHOLD * 255) < RESTORED:
        return _without_sheet_edges(ink, digit)
    return crop_to_ink(both)


def _without_sheet_edges(ink: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """The crop of a photo without ink reaching in from the frame (`digit`: the crop with it, when there is none)."""
    frame = reaching_in_from_the_edge(ink > INK_THRESHOLD * 255)
    return digit if frame is None else crop_to_ink(np.where(frame, 0.0, ink))


def mnist_from_gray(gray: np.ndarray) -> np.ndarray:
    """Grayscale [0, 255] of any size -> 28x28 float32 in [0, 1], formatted as MNIST is."""
    return center_by_mass(full_strength(fit_box(find_digit(gray)))) / 255.0


def mnist_from_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes -> 28x28 float32 in [0, 1], ready for the MNIST models."""
    return mnist_from_gray(to_grayscale(shrink(orient(decode_image(data, max_pixels)))))
