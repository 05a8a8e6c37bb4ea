"""The drawing page in a real headless Chromium against the real gunicorn on loopback."""

from __future__ import annotations

import contextlib

import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from support.browser import draw, number_strokes, strokes_for
from support.server import ROOT, running_server
from tests.fixtures import NEWEST

pytestmark = pytest.mark.slow


def _open(browser, server):
    browser.get(server.url + "/")
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=prediction-cnn]"))
    return browser.find_element(By.CSS_SELECTOR, "[data-testid=canvas]")


def _text(browser, testid: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]").text


def _answers(browser, expected: str | None = None, timeout: float = 10) -> tuple[str, str]:
    """Both models' predicted digits, once both show a digit (and, if given, the expected one)."""

    def shown(driver):
        pair = (_text(driver, "prediction-mlp"), _text(driver, "prediction-cnn"))
        if all(p.isdigit() for p in pair) and (expected is None or pair == (expected, expected)):
            return pair
        return False

    try:
        return WebDriverWait(browser, timeout).until(shown)
    except Exception:  # noqa: BLE001 - say what the page showed instead
        return _text(browser, "prediction-mlp"), _text(browser, "prediction-cnn")


def _console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.mark.parametrize("digit", ["1", "7", "0"])
def test_a_drawn_digit_is_recognised_by_both_models(browser, page_server, digit):
    canvas = _open(browser, page_server)
    draw(browser, canvas, strokes_for(digit))
    assert _answers(browser, digit) == (digit, digit)
    assert "confidence" in _text(browser, "confidence-mlp") and "confidence" in _text(browser, "confidence-cnn")
    lit = browser.execute_script(
        "const d = arguments[0].getContext('2d').getImageData(0, 0, 28, 28).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
        browser.find_element(By.CSS_SELECTOR, "[data-testid=preprocessed]"),
    )
    assert 20 < lit < 400  # the 28x28 the models saw holds the digit
    assert _console_errors(browser) == []


def test_undo_removes_the_last_stroke_and_clear_empties_everything(browser, page_server):
    canvas = _open(browser, page_server)
    top, slant = strokes_for("7")
    draw(browser, canvas, [top, slant])
    assert _answers(browser, "7") == ("7", "7")
    blank = "return arguments[0].getContext('2d').getImageData(0, 0, 280, 280).data.some(v => v > 0)"
    browser.find_element(By.CSS_SELECTOR, "[data-testid=undo]").click()
    assert browser.execute_script(blank, canvas) is True  # the top bar is still there
    WebDriverWait(browser, 10).until(lambda d: _text(d, "prediction-cnn") != "7")  # a bar alone is no 7
    browser.find_element(By.CSS_SELECTOR, "[data-testid=clear]").click()
    assert browser.execute_script(blank, canvas) is False
    assert (_text(browser, "prediction-mlp"), _text(browser, "prediction-cnn")) == ("–", "–")


@pytest.mark.parametrize(("name", "digit"), [("seven.png", "7"), ("two_on_paper.jpg", "2")])
def test_an_uploaded_photo_or_image_is_recognised(browser, page_server, name, digit):
    _open(browser, page_server)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=upload]").send_keys(str(ROOT / "examples" / name))
    assert _answers(browser, digit) == (digit, digit)
    assert _console_errors(browser) == []


def test_a_file_that_is_no_image_shows_the_error_in_plain_words(browser, page_server, tmp_path):
    _open(browser, page_server)
    note = tmp_path / "note.txt"
    note.write_text("not a digit")
    browser.find_element(By.CSS_SELECTOR, "[data-testid=upload]").send_keys(str(note))
    error = browser.find_element(By.CSS_SELECTOR, "[data-testid=error]")
    WebDriverWait(browser, 10).until(lambda d: error.is_displayed())
    assert "not an image the service can read" in error.text
    canvas = browser.find_element(By.CSS_SELECTOR, "[data-testid=canvas]")
    draw(browser, canvas, strokes_for("1"))  # and the page recovers on the next drawing
    assert _answers(browser, "1") == ("1", "1")
    WebDriverWait(browser, 10).until(lambda d: not error.is_displayed())


def test_the_keyboard_reaches_every_control(browser, page_server):
    _open(browser, page_server)
    reached = set()
    browser.find_element(By.TAG_NAME, "body").click()
    for _ in range(20):
        ActionChains(browser).send_keys(Keys.TAB).perform()  # the keyboard, not typed into an element
        element = browser.switch_to.active_element
        reached.add(element.get_attribute("data-testid") or element.get_attribute("id") or element.tag_name)
    assert {"undo", "clear", "upload", "select", "a"} <= reached, reached
    outline = browser.execute_script(
        "const b = document.getElementById('clear'); b.focus(); return getComputedStyle(b).outlineStyle;"
    )
    assert outline != "none"  # a visible focus


def test_the_page_has_a_strict_policy_and_works_at_phone_width(browser, page_server):
    response = requests.get(page_server.url + "/", timeout=5)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "<script>" not in response.text  # no inline script
    browser.set_window_size(375, 812)
    canvas = _open(browser, page_server)
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375
    draw(browser, canvas, strokes_for("7"))
    assert _answers(browser, "7") == ("7", "7")
    assert _console_errors(browser) == []


def _reading(browser, expected: str, timeout: float = 10) -> str:
    with contextlib.suppress(Exception):  # on a timeout, say what the page showed instead
        WebDriverWait(browser, timeout).until(lambda d: _text(d, "reading-text") == expected)
    return _text(browser, "reading-text")


def test_read_mode_reads_a_drawn_number_and_boxes_each_digit(browser, page_server):
    _open(browser, page_server)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=mode-read]").click()
    canvas = browser.find_element(By.CSS_SELECTOR, "[data-testid=canvas]")
    assert browser.execute_script("return [arguments[0].width, arguments[0].height]", canvas) == [560, 240]
    draw(browser, canvas, number_strokes("170"))
    assert _reading(browser, "170") == "170"
    listed = browser.find_elements(By.CSS_SELECTOR, "[data-testid=reading-digits] li")
    assert [item.text.split(":")[0] for item in listed] == ["1", "7", "0"]
    assert "confidence" in _text(browser, "reading-confidence")
    # One box per digit over the drawing: the overlay's lit columns form three separate runs, left to right.
    columns = browser.execute_script(
        "const c = arguments[0], d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "const lit = new Array(c.width).fill(0);"
        "for (let i = 3; i < d.length; i += 4) if (d[i] > 0) lit[((i - 3) / 4) % c.width] = 1; return lit;",
        browser.find_element(By.CSS_SELECTOR, "[data-testid=boxes]"),
    )
    runs = sum(1 for i, v in enumerate(columns) if v and (i == 0 or not columns[i - 1]))
    assert runs == 3
    assert browser.find_element(By.CSS_SELECTOR, "[data-testid=not-digit]").is_displayed() is False
    browser.find_element(By.CSS_SELECTOR, "[data-testid=clear]").click()
    assert _text(browser, "reading-text") == "–"
    assert _console_errors(browser) == []


def _letter(tmp_path, letter: str = "A") -> str:
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 255)
    strokes = {"A": [[(60, 240), (140, 40), (220, 240)], [(95, 160), (185, 160)]]}[letter]
    for stroke in strokes:
        ImageDraw.Draw(image).line(stroke, fill=0, width=16, joint="curve")
    path = tmp_path / f"{letter}.png"
    image.save(path)
    return str(path)


def test_an_image_that_is_not_a_digit_says_so_plainly(browser, page_server, tmp_path):
    _open(browser, page_server)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=upload]").send_keys(_letter(tmp_path))
    notice = browser.find_element(By.CSS_SELECTOR, "[data-testid=not-digit]")
    WebDriverWait(browser, 10).until(lambda d: notice.is_displayed())
    assert "does not look like a digit" in notice.text
    # A digit afterwards clears it.
    browser.find_element(By.CSS_SELECTOR, "[data-testid=upload]").send_keys(str(ROOT / "examples" / "seven.png"))
    assert _answers(browser, "7") == ("7", "7")
    WebDriverWait(browser, 10).until(lambda d: not notice.is_displayed())
    # In read mode too: the letter's one mark is boxed and named as no digit.
    browser.find_element(By.CSS_SELECTOR, "[data-testid=mode-read]").click()
    browser.find_element(By.CSS_SELECTOR, "[data-testid=upload]").send_keys(_letter(tmp_path))
    WebDriverWait(browser, 10).until(lambda d: notice.is_displayed())
    assert "does not look like a number" in notice.text
    assert "not a digit" in _text(browser, "reading-digits")


def test_a_wrong_answer_is_corrected_from_the_page_in_both_modes(browser, chromium_ready, tmp_path, models_dir):
    """ "Wrong? Correct it" sends the image answered, with the right digit or number and what answered it, to
    POST /feedback of a server that keeps corrections (real gunicorn, real SQLite)."""
    feedback = tmp_path / "feedback"
    (tmp_path / "server").mkdir()
    with running_server(
        tmp_path / "server",
        MODEL_DIR=str(models_dir),
        FEEDBACK_DIR=str(feedback),
        FEEDBACK_INSTANCE="page",
        ADMIN_TOKEN="page-admin",
    ) as server:
        canvas = _open(browser, server)
        form = browser.find_element(By.CSS_SELECTOR, "[data-testid=correct]")
        assert not form.is_displayed()  # nothing answered yet: nothing to correct
        draw(browser, canvas, strokes_for("7"))
        _answers(browser, "7")
        assert form.is_displayed()
        browser.find_element(By.CSS_SELECTOR, "[data-testid=correct-input]").send_keys("1")
        browser.find_element(By.CSS_SELECTOR, "[data-testid=correct-send]").click()
        WebDriverWait(browser, 10).until(lambda d: "kept as correction" in _text(d, "correct-status"))
        browser.find_element(By.CSS_SELECTOR, "[data-testid=mode-read]").click()
        assert not form.is_displayed()
        canvas = browser.find_element(By.CSS_SELECTOR, "[data-testid=canvas]")
        draw(browser, canvas, number_strokes("170"))
        assert _reading(browser, "170") == "170"
        field = browser.find_element(By.CSS_SELECTOR, "[data-testid=correct-input]")
        field.send_keys("176")
        browser.find_element(By.CSS_SELECTOR, "[data-testid=correct-send]").click()
        WebDriverWait(browser, 10).until(lambda d: "kept as correction" in _text(d, "correct-status"))
        stats = requests.get(
            f"{server.url}/feedback/stats", headers={"Authorization": "Bearer page-admin"}, timeout=5
        ).json()
        assert _console_errors(browser) == []  # while the server runs: once it stops, the page's retries log errors
    assert stats["by_label"] == {"digit:1": 1, "number:176": 1}
    assert stats["by_model_version"] == {f"mlp v{NEWEST['mlp']}": 1, f"cnn v{NEWEST['cnn']}": 1}
