"""Images people send -> the 28x28 float32 input MNIST models expect, and a number's marks. Pure functions.

MNIST digits were made by scaling each digit's bounding box so its longer side is 20 px (keeping the aspect
ratio, with anti-aliasing) and pasting it into a 28x28 field so that its centre of mass is at the centre,
bright ink on a black background. `mnist_from_image` repeats those steps on any image, in stages, a module
each, in the order they run:

1. decode:     bytes -> an upright PIL image at a working size (EXIF orientation, JPEG draft, box reduction).
2. gray:       any mode -> float32 luminance, transparency flattened; then bright ink on a dark ground.
3. background: one exact level for a clean image; for a photo, the image with its strokes shaved off.
4. ink:        the background removed, the grain cleared, the ink scaled to [0, 255];
   pieces:     which connected pieces of ink are the digit, and its crop;
   segment:    for reading what is written (`read_image`), the glyphs of the image, one character each;
   layout:     the glyphs as lines of characters: digit candidates and separators.
5. fit:        longer side to 20 px, strokes at full strength, centred by mass in 28x28.
pipeline runs them; imageops holds the generic image operations; tuning every constant, with why it has its value.
"""

from service.reading.decode import IMAGE_MEDIA_TYPES
from service.reading.layout import DIGIT, SEPARATORS, Character, Line, Part
from service.reading.pipeline import Page, mnist_from_gray, mnist_from_image, read_image

__all__ = [
    "DIGIT",
    "IMAGE_MEDIA_TYPES",
    "SEPARATORS",
    "Character",
    "Line",
    "Page",
    "Part",
    "mnist_from_gray",
    "mnist_from_image",
    "read_image",
]
