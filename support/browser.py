"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for the page's tests and
`make screenshot`. Installs them with apt-get where missing and it can (root); says loudly when it cannot."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def ensure_chromium() -> str | None:
    """None when Chromium and its driver are there (installed now if need be), else why not."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return None
    if shutil.which("apt-get") is None:
        return "no chromium/chromedriver and no apt-get to install them"
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            return f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-500:]}"
    return None if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() else "installed, but not found"


def start_chromium(profile_dir: Path, width: int = 1100, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--disable-quic",
        f"--user-data-dir={profile_dir}",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def number_strokes(text: str, height: int = 240, width: int = 560) -> list[list[tuple[float, float]]]:
    """Pen strokes drawing `text` (digits 0, 1 and 7) side by side across a `width` x `height` canvas."""
    cell = min(width / len(text), 200.0)
    left = (width - cell * len(text)) / 2
    scale = min(cell / 280 * 1.25, (height - 20) / 280)
    strokes = []
    for index, digit in enumerate(text):
        centre_x, centre_y = left + cell * (index + 0.5), height / 2
        strokes += [
            [(centre_x + (x - 140) * scale, centre_y + (y - 140) * scale) for x, y in stroke]
            for stroke in strokes_for(digit)
        ]
    return strokes


def strokes_for(digit: str) -> list[list[tuple[float, float]]]:
    """Pen strokes (canvas pixels, 280x280) that draw `digit` as a person would."""
    if digit == "1":
        return [[(140, 45 + 10 * i) for i in range(20)]]
    if digit == "7":
        top = [(75 + 10 * i, 60) for i in range(14)]
        slant = [(205 - 5 * i, 60 + 9 * i) for i in range(20)]
        return [top, slant]
    if digit == "0":
        return [
            [(140 + 55 * math.sin(2 * math.pi * i / 36), 140 - 85 * math.cos(2 * math.pi * i / 36)) for i in range(38)]
        ]
    raise ValueError(digit)


def draw(driver, canvas, strokes: list[list[tuple[float, float]]]) -> None:
    """Real pointer strokes over the canvas (Selenium's pointer actions), in canvas pixel coordinates."""
    from selenium.webdriver.common.action_chains import ActionChains

    box = driver.execute_script(
        "const c = arguments[0], r = c.getBoundingClientRect(); return [r.width, r.height, c.width, c.height];", canvas
    )
    scale_x, scale_y = box[0] / box[2], box[1] / box[3]
    for stroke in strokes:
        actions = ActionChains(driver, duration=10)
        x0, y0 = stroke[0]
        actions.move_to_element_with_offset(canvas, (x0 - box[2] / 2) * scale_x, (y0 - box[3] / 2) * scale_y)
        actions.click_and_hold()
        for (xa, ya), (xb, yb) in itertools.pairwise(stroke):
            actions.move_by_offset(round((xb - xa) * scale_x), round((yb - ya) * scale_y))
        actions.release().perform()
