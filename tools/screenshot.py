"""`make screenshot`: docs/page.png, the drawing page with a drawn 7, and docs/page-read.png, its "Read a number"
mode on examples/number_on_paper.jpg, from a real server and headless Chromium."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support.browser import draw, ensure_chromium, start_chromium, strokes_for
from support.server import running_server

ROOT = Path(__file__).resolve().parent.parent


def main(output: str = "docs/page.png") -> int:
    problem = ensure_chromium()
    if problem:
        print(f"cannot take the screenshot: {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp), MODEL_DIR=str(ROOT / "models")) as server:
        driver = start_chromium(Path(tmp) / "profile", width=1100, height=720)
        try:
            driver.get(server.url + "/")
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=prediction-cnn]"))
            draw(driver, driver.find_element(By.CSS_SELECTOR, "[data-testid=canvas]"), strokes_for("7"))
            WebDriverWait(driver, 10).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=prediction-cnn]").text == "7"
            )
            target = ROOT / output
            target.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(target))
            print(f"wrote {target.relative_to(ROOT)}")
            driver.find_element(By.CSS_SELECTOR, "[data-testid=mode-read]").click()
            upload = driver.find_element(By.CSS_SELECTOR, "[data-testid=upload]")
            upload.send_keys(str(ROOT / "examples" / "number_on_paper.jpg"))
            WebDriverWait(driver, 10).until(
                lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=reading-text]").text == "2026"
            )
            reading = target.with_name(target.stem + "-read.png")
            driver.save_screenshot(str(reading))
            print(f"wrote {reading.relative_to(ROOT)}")
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
