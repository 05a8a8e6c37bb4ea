"""Hostile input on the surfaces added after issue 10's corpus (issue 36): /read, /feedback and their parameters.

Every image is made here, none shipped: grids of thousands of marks, confetti, scrawls of many cut points, a
serpentine one pixel wide, noise, and the images /read refuses as holding no digit. Each is answered with a JSON
4xx or a reading within BOUND_S, in process on this machine's one core, never a 5xx. Then parameter values that
Python's str.isdigit() takes and int() or SQLite refuse, labels in other scripts, doubled fields, and who may read
and delete the stored corrections.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from service import create_app
from service.settings import Settings
from tests.images import dot_grid, encode, png

# What a hostile image may cost /read in this process (the slowest here take about 0.1 s; issue 36 saw 26 s).
BOUND_S = 1.0
ADMIN_TOKEN = "hostile-admin"
API_KEY = "hostile-key"


def _confetti(count: int, side: int, size: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    image = np.full((side, side), 255, np.uint8)
    for top, left in rng.integers(0, side - size, (count, 2)):
        image[top : top + size, left : left + size] = 0
    return png(image)


def _zigzags(lines: int) -> bytes:
    """`lines` rows of a comb 20 px tall across the image: one wide glyph of hundreds of cut points each."""
    image = np.full((400, 400), 255, np.uint8)
    for line in range(lines):
        top = 8 + line * 32
        image[top : top + 2, 6:394] = 0
        for column in range(6, 394, 6):
            image[top : top + 20, column : column + 2] = 0
    return png(image)


def _serpentine(side: int = 400) -> bytes:
    """One stroke a pixel wide winding through the whole image, row after row."""
    image = np.full((side, side), 255, np.uint8)
    image[::2] = 0
    image[1::4, -1] = image[3::4, 0] = 0
    return png(image)


def _dots_around_a_number() -> bytes:
    """Ten tall bars, with 400 dots below them: few characters, many small pieces for the layout to place."""
    image = np.full((400, 400), 255, np.uint8)
    for k in range(10):
        image[150:250, 10 + 38 * k : 18 + 38 * k] = 0
    for row in range(260, 396, 7):
        for column in range(4, 396, 7):
            image[row : row + 3, column : column + 3] = 0
    return png(image)


def _noise(side: int, share: float, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return png(np.where(rng.random((side, side)) < share, 0, 255).astype(np.uint8))


def _text_page() -> bytes:
    image = Image.new("L", (800, 600), 255)
    draw = ImageDraw.Draw(image)
    for line in range(30):
        draw.text((10, 10 + 19 * line), "0123456789 " * 12, fill=0)
    return encode(image)


HOSTILE_IMAGES = {
    "a grid of 9,801 marks (issue 36, 1 KB)": dot_grid(400, 4, 2),
    "a grid of 2,401 marks": dot_grid(200, 4, 2),
    "a grid of 361 blobs": dot_grid(400, 20, 6),
    "5,000 blobs of 6x6 on 2000x2000": _confetti(5000, 2000, 6),
    "twelve combs of hundreds of cut points": _zigzags(12),
    "one comb": _zigzags(1),
    "a serpentine a pixel wide": _serpentine(),
    "ten bars and 400 dots": _dots_around_a_number(),
    "noise at 3 %": _noise(400, 0.03),
    "noise at 50 %": _noise(400, 0.5),
    "a page of small digits": _text_page(),
    "blank": png(np.full((64, 64), 255, np.uint8)),
    "all black": png(np.zeros((64, 64), np.uint8)),
    "1x1": png(np.zeros((1, 1), np.uint8)),
    "1x60000": png(np.where(np.arange(60000) % 7 < 2, 0, 255).astype(np.uint8)[None, :]),
    "a JPEG strip 1200x1 (a zero-size draft once)": encode(Image.new("L", (1200, 1), 0), "JPEG"),
    "60000x1": png(np.where(np.arange(60000) % 7 < 2, 0, 255).astype(np.uint8)[:, None]),
}


@pytest.fixture(scope="module")
def guarded(models_dir, tmp_path_factory):
    """A service under API_KEYS and ADMIN_TOKEN, keeping corrections."""
    settings_ = Settings.from_env(
        {},
        model_dir=models_dir,
        workers=1,
        api_keys=API_KEY,
        admin_token=ADMIN_TOKEN,
        feedback_dir=str(tmp_path_factory.mktemp("feedback")),
        feedback_instance="hostile",
    )
    return create_app(settings_).test_client()


KEY = {"X-API-Key": API_KEY}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _timed_read(client, image: bytes, headers: dict | None = None):
    started = time.perf_counter()
    response = client.post("/read", data=image, content_type="image/png", headers=headers or {})
    return response, time.perf_counter() - started


@pytest.mark.parametrize("name", list(HOSTILE_IMAGES))
def test_a_hostile_image_is_read_or_refused_quickly_never_a_5xx(client, name):
    response, elapsed = _timed_read(client, HOSTILE_IMAGES[name])
    assert response.status_code in (200, 413, 415, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert elapsed < BOUND_S, f"{name}: {elapsed:.2f} s"


def test_thousands_of_marks_are_refused_before_they_are_grouped(client):
    response, elapsed = _timed_read(client, HOSTILE_IMAGES["a grid of 9,801 marks (issue 36, 1 KB)"])
    assert response.status_code == 422
    assert "9801 separate marks" in response.json["error"]["message"]
    assert elapsed < 0.5


def test_a_reading_past_its_time_budget_is_a_503_with_retry_after(models_dir, glyphs):
    from tests.images import number_ink, on_white

    slow = create_app(Settings.from_env({}, model_dir=models_dir, workers=1, read_budget_s=1e-6)).test_client()
    response = slow.post("/read", data=encode(on_white(number_ink(glyphs, "2026"))), content_type="image/png")
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "READ_BUDGET_S" in response.json["error"]["message"]


def _scribble(seed: int, width: int, height: int, strokes: int, dots: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for _ in range(strokes):
        points = [tuple(map(int, rng.integers(0, (width, height)))) for _ in range(int(rng.integers(2, 12)))]
        draw.line(points, fill=int(rng.integers(0, 200)), width=int(rng.integers(1, 9)))
    for _ in range(dots):
        x, y = map(int, rng.integers(0, (width, height)))
        size = int(rng.integers(1, 5))
        draw.rectangle((x, y, x + size, y + size), fill=0)
    return encode(image, "PNG" if seed % 3 else "JPEG")


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    width=st.integers(1, 1200),
    height=st.integers(1, 1200),
    strokes=st.integers(0, 400),
    dots=st.integers(0, 3000),
)
def test_any_scribble_is_read_or_refused_within_the_bound(client, seed, width, height, strokes, dots):
    response, elapsed = _timed_read(client, _scribble(seed, width, height, strokes, dots))
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    assert elapsed < BOUND_S, f"{width}x{height}, {strokes} strokes, {dots} dots: {elapsed:.2f} s"


# -- parameters -----------------------------------------------------------------------------------------------------
def _digit_png(digit: np.ndarray) -> bytes:
    return png(255 - digit)


NOT_A_NUMBER = ["²", "٣", "３", "999999999999999999999999", "-1", "1.5", "v3", " ", "9" * 40]


@pytest.mark.parametrize("value", NOT_A_NUMBER)
def test_no_version_value_is_a_5xx(guarded, digit, value):
    image = _digit_png(digit)
    answers = [
        guarded.post(f"/predict?version={value}", data=image, content_type="image/png", headers=KEY),
        guarded.post("/predict", json={"model": "linear", "version": value, "inputs": [1.0]}, headers=KEY),
        guarded.post(f"/read?version={value}", data=image, content_type="image/png", headers=KEY),
        guarded.get(f"/models/cnn/versions/{value}", headers=KEY),
        guarded.post(f"/v2/models/cnn/versions/{value}/infer", json={"inputs": []}, headers=KEY),
        guarded.post(f"/feedback?label=7&version={value}", data=image, content_type="image/png", headers=KEY),
        guarded.delete(f"/feedback/{value}", headers=ADMIN),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, (response.request.path, response.get_data(as_text=True))
        assert response.mimetype == "application/json"


@pytest.mark.parametrize("label", ["٣", "²", "３", "7 ", "77", "", "-"])
def test_a_label_is_one_ascii_digit(guarded, digit, label):
    response = guarded.post(
        "/feedback", data={"image": (io.BytesIO(_digit_png(digit)), "d.png"), "label": label}, headers=KEY
    )
    if label == "7 ":  # spaces around the digit are a client's form, not another label
        assert response.status_code in (200, 201), response.json
        assert response.json["label"] == "7"
        return
    assert response.status_code == 400 and "one digit" in response.json["error"]["message"], response.json


@pytest.mark.parametrize("text", ["-", "....", "12\n-", "١٢", "12a"])
def test_a_number_text_holds_a_digit_on_every_line(guarded, digit, text):
    response = guarded.post(
        "/feedback", data={"image": (io.BytesIO(_digit_png(digit)), "d.png"), "text": text}, headers=KEY
    )
    assert response.status_code == 400 and "'text'" in response.json["error"]["message"], response.json


@pytest.mark.parametrize(
    ("query", "form"),
    [("label=1&label=2", {}), ("label=1", {"label": "2"}), ("", {"label": ["1", "2"]}), ("text=1&text=2", {})],
)
def test_a_field_given_twice_is_a_400(guarded, digit, query, form):
    data = {"image": (io.BytesIO(_digit_png(digit)), "d.png"), **form}
    response = guarded.post(f"/feedback?{query}", data=data, headers=KEY)
    assert response.status_code == 400 and "given 2 times" in response.json["error"]["message"], response.json


@pytest.mark.parametrize("name", ["blank", "all black", "1x1", "1x60000"])
def test_feedback_refuses_what_predict_and_read_refuse(guarded, name):
    image = HOSTILE_IMAGES[name]
    for field in ("label=1", "text=1"):
        stored = guarded.post(f"/feedback?{field}", data=image, content_type="image/png", headers=KEY)
        endpoint = "/predict" if field.startswith("label") else "/read"
        refused = guarded.post(endpoint, data=image, content_type="image/png", headers=KEY)
        assert refused.status_code == 422, (endpoint, refused.json)
        assert stored.status_code == 422, (field, stored.json)


def test_a_300_frame_image_is_kept_as_its_first_frame(guarded, digit):
    frames = [Image.fromarray(255 - digit)] + [Image.new("L", (28, 28), 255)] * 299
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    first = guarded.post("/feedback?label=5", data=buffer.getvalue(), content_type="image/gif", headers=KEY)
    assert first.status_code == 201, first.json
    again = guarded.post("/feedback?label=5", data=encode(frames[0], "GIF"), content_type="image/gif", headers=KEY)
    assert again.status_code == 200 and again.json["id"] == first.json["id"], again.json


def test_trailing_bytes_are_neither_kept_nor_a_way_past_the_duplicate_check(guarded, digit):
    image = _digit_png(np.roll(digit, 1, axis=1))
    first = guarded.post("/feedback?label=3", data=image, content_type="image/png", headers=KEY)
    padded = guarded.post("/feedback?label=3", data=image + b"\0junk" * 200_000, content_type="image/png", headers=KEY)
    assert first.status_code == 201 and padded.status_code == 200, padded.json
    assert padded.json == {**first.json, "duplicate": True}


# -- who may do what ------------------------------------------------------------------------------------------------
NOBODY: dict[str, str] = {}
MATRIX = [
    # endpoint, credentials, the status expected (a 2xx or 404 is let through: the check passed)
    ("POST /feedback", NOBODY, 401),
    ("POST /feedback", KEY, 201),
    ("POST /feedback", ADMIN, 401),
    ("GET /feedback/stats", NOBODY, 401),
    ("GET /feedback/stats", KEY, 401),
    ("GET /feedback/stats", ADMIN, 200),
    ("DELETE /feedback/1", NOBODY, 401),
    ("DELETE /feedback/1", KEY, 401),
    ("DELETE /feedback/1", ADMIN, 200),
    ("POST /predict", NOBODY, 401),
    ("POST /predict", KEY, 200),
    ("POST /read", KEY, 200),
    ("POST /read", ADMIN, 401),
]


def test_the_authorization_matrix_holds(guarded, digit):
    image = _digit_png(np.roll(digit, 2, axis=0))
    for endpoint, headers, expected in MATRIX:
        method, path = endpoint.split(" ")
        data = image if method == "POST" else None
        query = "?label=7" if path == "/feedback" else ""
        response = guarded.open(path + query, method=method, data=data, content_type="image/png", headers=headers)
        assert response.status_code == expected, (endpoint, headers, response.get_data(as_text=True))


def test_without_an_admin_token_the_stored_corrections_cannot_be_read_or_deleted(models_dir, tmp_path, digit):
    open_ = create_app(
        Settings.from_env({}, model_dir=models_dir, workers=1, feedback_dir=str(tmp_path), feedback_instance="o")
    ).test_client()
    stored = open_.post("/feedback?label=7", data=_digit_png(digit), content_type="image/png")
    assert stored.status_code == 201  # contributing needs what /predict needs: nothing, here
    for response in (open_.get("/feedback/stats"), open_.delete(f"/feedback/{stored.json['id']}")):
        assert response.status_code == 403 and "ADMIN_TOKEN" in response.json["error"]["message"]
