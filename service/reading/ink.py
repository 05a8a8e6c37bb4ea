"""Stage 4a, the ink: bright strokes on a zero background, scaled to [0, 255], the noise cleared."""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput
from service.reading.background import clean_level, grain, photo_background
from service.reading.gray import bright_ink
from service.reading.imageops import block_means, stretch, window_extreme
from service.reading.tuning import CONTRAST, NOISE_FLOOR, SMOOTHING


def ink_on_dark(gray: np.ndarray, reach: int | None = None, light_ground: bool | None = None) -> np.ndarray:
    """Bright ink on a zero background, scaled to [0, 255]: `ink_and_clean`'s ink."""
    return ink_and_clean(gray, reach, light_ground)[0]


def ink_and_clean(
    gray: np.ndarray, reach: int | None = None, light_ground: bool | None = None
) -> tuple[np.ndarray, bool]:
    """Bright ink on a zero background, scaled to [0, 255]; `reach`: the widest a stroke may be, in pixels;
    `light_ground`: whether the ink is darker than its ground (None: decided from the border, `bright_ink`).

    A clean image loses its one background level and nothing else. A photo loses its estimated background
    (`photo_background`); where the ink is, is then read from a copy averaged over blocks (a small share of
    the image), which divides the grain's noise by the block's side and keeps a faint stroke at its level;
    the pixels themselves stay sharp. Values within the noise (four of its standard deviations, see `grain`;
    at least a tenth of the ink's range) are cleared. An image whose brightest ink is within `CONTRAST`
    deviations of the background holds no digit. Also whether the image was clean (one exact background
    level): then `reach` played no part, and a look with another window would find the same ink.
    """
    gray = bright_ink(gray) if light_ground is None else (255.0 - gray if light_ground else gray)
    level = clean_level(gray)
    if level is not None:
        gray = np.clip(gray - level, 0.0, None)
        background, smooth, noise = 0.0, gray, 0.0
    else:
        block = max(1, min(gray.shape) // SMOOTHING)
        small = block_means(gray, block)
        small_level = photo_background(gray, small, reach, block)
        small -= small_level
        # Stretched back, a step between two blocks becomes a ramp one block wide, which would leave a line of
        # false ink along a sheet's edge; each block's level is raised to its neighbours' highest first.
        gray = gray - stretch(window_extreme(small_level, 3, np.maximum), block, gray.shape)
        smooth = stretch(small, block, gray.shape)
        # Ink is the upper tail and rarely half the pixels; the border may be something else (outside a sheet).
        background, noise = float(np.median(small)), grain(small)
    peak = float(smooth.max())
    if peak - background < max(1.0, CONTRAST * noise):
        raise InvalidInput("the image holds no digit: it is blank, has no contrast or holds only noise")
    ink = gray - np.float32(background)
    if level is None:
        floor = max(NOISE_FLOOR * (peak - background), 4 * noise)
        ink[(smooth < background + floor) | (ink < floor / 2)] = 0.0
    ink *= np.float32(255.0 / (peak - background))
    return np.clip(ink, 0.0, 255.0, out=ink), level is not None
