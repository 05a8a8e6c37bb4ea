"""The stages in order: encoded bytes -> 28x28 float32 in [0, 1], formatted as MNIST is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.errors import InvalidInput
from service.reading import budget
from service.reading.decode import decode_image, decode_upright, orient, shrink
from service.reading.fit import as_mnist
from service.reading.gray import border_median, to_grayscale
from service.reading.imageops import Box, extent, share, window_extreme
from service.reading.ink import ink_and_clean, ink_on_dark
from service.reading.layout import DIGIT, Line, Part, Segment, lay_out
from service.reading.linecrop import line_image
from service.reading.pieces import crop_to_ink, reaching_in_from_the_edge
from service.reading.segment import check_count, find_glyphs
from service.reading.tuning import FILLS, INK_THRESHOLD, INKED, OPENING, REACH, READ_FILLS, READ_WORKING_SIZE, RESTORED


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
        ink, clean = ink_and_clean(gray)
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
    # A clean image has one background level whatever the window: a second look would find this very ink again
    # (and its crop this very digit), so it is not taken. What follows from it is decided as if it had been.
    both = ink if clean else second_look(gray, ink, reach)
    if both is None:
        return digit
    inked = share(ink > INK_THRESHOLD * 255)
    if inked < INKED and (inked if clean else share(both > INK_THRESHOLD * 255)) < RESTORED:
        return _without_sheet_edges(ink, digit)
    return digit if clean else crop_to_ink(both)


def second_look(gray: np.ndarray, ink: np.ndarray, reach: int, light_ground: bool | None = None) -> np.ndarray | None:
    """`ink` with the inside of its strokes restored by a look whose window is `reach` wide, near its strokes only.

    None when that look finds nothing (it follows uneven light less closely, and may see no contrast at all).
    """
    try:
        wide = ink_on_dark(gray, reach, light_ground)
    except InvalidInput:
        return None
    near = window_extreme(
        (ink > INK_THRESHOLD * 255).astype(np.float32), max(3, min(gray.shape) // OPENING), np.maximum
    )
    return np.where(near > 0, np.maximum(ink, wide), ink)


def _frame_removed(ink: np.ndarray) -> np.ndarray | None:
    """`ink` without what reaches in from the frame (a sheet's edges, the desk), or None when nothing does."""
    frame = reaching_in_from_the_edge(ink > INK_THRESHOLD * 255)
    return None if frame is None else np.where(frame, np.float32(0.0), ink)


def _without_sheet_edges(ink: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """The crop of a photo without ink reaching in from the frame (`digit`: the crop with it, when there is none)."""
    removed = _frame_removed(ink)
    return digit if removed is None else crop_to_ink(removed)


def mnist_from_gray(gray: np.ndarray) -> np.ndarray:
    """Grayscale [0, 255] of any size -> 28x28 float32 in [0, 1], formatted as MNIST is."""
    return as_mnist(find_digit(gray))


def mnist_from_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes -> 28x28 float32 in [0, 1], ready for the MNIST models."""
    return mnist_from_gray(to_grayscale(shrink(orient(decode_image(data, max_pixels)))))


@dataclass(frozen=True)
class Page:
    """What an image says, as lines of characters, and how its analysed pixels map to the image as sent."""

    lines: list[Line]
    scale_x: float = 1.0
    scale_y: float = 1.0
    ink: np.ndarray | None = None  # the ink map the lines were found in

    def line_images(self) -> list[np.ndarray]:
        """Each line's ink as the line reader takes it (linecrop), made only when a line reader asks."""
        return [] if self.ink is None else [line_image(self.ink, line.box) for line in self.lines]

    def as_sent(self, box: Box) -> tuple[int, int, int, int]:
        """A box of the analysed image as (x, y, width, height) in pixels of the image as sent (EXIF applied)."""

        def scaled(start: int, length: int, scale: float) -> tuple[int, int]:
            first = int(start * scale)
            return first, max(1, round((start + length) * scale) - first)

        (x, w), (y, h) = scaled(box.left, box.width, self.scale_x), scaled(box.top, box.height, self.scale_y)
        return x, y, w, h


def _reading_ink(gray: np.ndarray) -> np.ndarray:
    """The ink of an image to read: as for one digit, with a light sheet's dark desk taken out."""
    # A dark border around an image that is mostly light is a light sheet on a dark desk, photographed with the desk
    # around it: the sheet is the ground (a number's ink is a small share of it), the desk reaching in is not ink.
    # The other way round (a light border, a mostly dark image) is a number cropped tight in bold ink.
    dark_border = bool(border_median(gray) <= 127)
    light_ground = not dark_border or bool(np.median(gray) > 127)
    ink = ink_on_dark(gray, light_ground=light_ground)
    if dark_border and light_ground:
        removed = _frame_removed(ink)  # the desk, reaching in from the frame
        ink = ink if removed is None else removed
    found = extent(ink > INK_THRESHOLD * 255)
    if found is not None and found.height >= READ_FILLS * gray.shape[0]:
        # Marks as tall as their image (a number cropped tight) may have strokes wider than the first look's window.
        restored = second_look(gray, ink, round(REACH * gray.shape[0]), light_ground)
        ink = ink if restored is None else restored
    return ink


def lines_from_gray(gray: np.ndarray) -> list[Line]:
    """The lines of characters of a grayscale image [0, 255], top to bottom, each left to right."""
    return lines_and_ink(gray)[0]


def lines_and_ink(gray: np.ndarray) -> tuple[list[Line], np.ndarray]:
    """The lines of characters of a grayscale image [0, 255], top to bottom, each left to right, and the ink map
    they were found in.

    A single mark is prepared exactly as `/predict` prepares a digit (`mnist_from_gray`): one digit reads the same
    through both endpoints.
    """
    ink = _reading_ink(gray)
    budget.check("finding the ink")
    found = find_glyphs(ink)
    budget.check("cutting the marks")
    lines = lay_out(found)
    characters = [c for line in lines for c in line.characters]
    check_count(len(characters))
    if len(characters) == 1 and characters[0].kind == DIGIT and characters[0].last == 1:
        only = characters[0]
        whole = only.segments[0]
        only.segments[0] = Segment(0, 1, Part(whole.part.box, mnist_from_gray(gray)), whole.width)
    return lines, ink


def read_image(data: bytes, max_pixels: int) -> Page:
    """Encoded image bytes -> what it says, with boxes mapped to pixels of the image as sent (EXIF applied)."""
    image, (width, height) = decode_upright(data, max_pixels, READ_WORKING_SIZE)
    gray = to_grayscale(shrink(orient(image), READ_WORKING_SIZE))
    budget.check("decoding")
    lines, ink = lines_and_ink(gray)
    return Page(lines, width / gray.shape[1], height / gray.shape[0], ink)
