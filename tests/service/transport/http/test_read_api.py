"""POST /read and is_digit: in process, and against the real gunicorn (metrics, access log)."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from service import create_app
from service.settings import Settings
from tests.images import A_LETTER, drawn, encode, number_ink, on_white
from tests.metrics import sample


@pytest.fixture(scope="module")
def number_png(glyphs) -> bytes:
    return encode(on_white(number_ink(glyphs, "2026")))


def test_a_number_is_read_with_a_box_and_verdict_per_digit(client, number_png):
    response = client.post("/read", data=number_png, content_type="image/png")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["model"] == "cnn" and isinstance(body["version"], int)
    assert body["text"] == "2026"
    assert [d["label"] for d in body["digits"]] == [2, 0, 2, 6]
    assert body["is_number"] is True and all(d["is_digit"] is True for d in body["digits"])
    assert math.isclose(body["confidence"], math.prod(d["confidence"] for d in body["digits"]), rel_tol=1e-4)
    width, height = Image.open(io.BytesIO(number_png)).size
    lefts = [d["box"][0] for d in body["digits"]]
    assert lefts == sorted(lefts)
    for digit in body["digits"]:
        x, y, w, h = digit["box"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height
        assert set(digit) == {"label", "confidence", "is_digit", "box"}


def test_multipart_upload_with_model_and_version_fields(client, number_png):
    response = client.post(
        "/read", data={"image": (io.BytesIO(number_png), "n.png"), "model": "mlp"}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.json
    assert response.json["model"] == "mlp" and len(response.json["digits"]) == 4
    assert client.post("/read?model=cnn&version=999", data=number_png, content_type="image/png").status_code == 404


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"query_string": {"model": "linear"}}, 400, "does not read digits"),
        ({"query_string": {"model": "isdigit"}}, 400, "does not read digits"),
        ({"query_string": {"model": "linereader"}}, 400, "does not read digits"),
        ({"query_string": {"model": "charmodel"}}, 400, "does not read digits"),
        ({"query_string": {"model": "nope"}}, 404, "unknown model"),
    ],
)
def test_a_model_that_does_not_read_digits_is_refused(client, number_png, kwargs, status, words):
    response = client.post("/read", data=number_png, content_type="image/png", **kwargs)
    assert response.status_code == status and words in response.json["error"]["message"]


def test_bad_inputs_get_clear_4xx_errors(client, number_png):
    blank = encode(Image.new("L", (300, 100), 255))
    cases = [
        (client.post("/read", data=blank, content_type="image/png"), 422, "no digit"),
        (client.post("/read", data=b"not an image", content_type="image/png"), 415, "cannot decode"),
        (client.post("/read", json={"inputs": [1]}), 415, "takes an image"),
        (client.post("/read", data=b"", content_type="image/png"), 422, "empty"),
        (
            client.post(
                "/read",
                data={"image": [(io.BytesIO(number_png), "a.png"), (io.BytesIO(number_png), "b.png")]},
                content_type="multipart/form-data",
            ),
            400,
            "one image",
        ),
        (client.post("/read", data={"file": (io.BytesIO(number_png), "a.png")}), 422, "field 'image'"),
        (client.post("/read", data=encode(Image.new("L", (2100, 2100), 255)), content_type="image/png"), 413, "limit"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (status, response.json)
        assert words in response.json["error"]["message"], response.json


def test_predict_says_whether_an_image_is_a_digit(client, mnist_sample):
    images, _ = mnist_sample
    digit = client.post("/predict", data=encode(Image.fromarray(255 - images[0])), content_type="image/png").json
    letter = client.post("/predict", data=drawn(A_LETTER), content_type="image/png").json
    assert digit["predictions"][0]["is_digit"] is True
    assert letter["predictions"][0]["is_digit"] is False
    # label, confidence and probabilities are as they were: existing clients keep working.
    assert set(letter["predictions"][0]) == {"label", "confidence", "probabilities", "is_digit"}
    assert len(letter["predictions"][0]["probabilities"]) == 10
    # JSON inputs are tensors the client prepared, as over /v2: answered as before, without is_digit.
    pixels = (images[:3] / 255.0).reshape(3, 784).tolist()
    answered = client.post("/predict", json={"model": "mlp", "inputs": pixels}).json["predictions"]
    assert all("is_digit" not in p for p in answered)


def test_a_letter_read_as_a_number_is_named_as_no_digit(client):
    body = client.post("/read", data=drawn(A_LETTER), content_type="image/png").json
    assert body["is_number"] is False and [d["is_digit"] for d in body["digits"]] == [False]


def test_without_the_digit_check_is_digit_is_left_out(models_dir, mnist_sample, number_png):
    images, _ = mnist_sample
    app = create_app(Settings.from_env({}, model_dir=models_dir, workers=1, digit_check_model="off"))
    client = app.test_client()
    predicted = client.post("/predict", data=encode(Image.fromarray(255 - images[0])), content_type="image/png").json
    assert "is_digit" not in predicted["predictions"][0]
    read = client.post("/read", data=number_png, content_type="image/png").json
    assert "is_number" not in read and all("is_digit" not in d for d in read["digits"])


def test_the_digit_checks_threshold_is_in_its_description(client):
    described = client.get("/models/isdigit").json
    assert described["labels"] == ["not a digit", "digit"] and 0 < described["threshold"] < 1
    assert "threshold" not in client.get("/models/cnn").json


def test_the_openapi_document_describes_read_and_is_digit(client):
    document = client.get("/openapi.json").json
    read = document["paths"]["/read"]["post"]
    assert {"200", "400", "413", "415", "422"} <= set(read["responses"])
    assert "image/jpeg" in read["requestBody"]["content"]
    schemas = document["components"]["schemas"]
    assert {"text", "digits", "confidence"} <= set(schemas["ReadResponse"]["properties"])
    assert "is_digit" in schemas["Classification"]["properties"] and "box" in schemas["ReadDigit"]["properties"]


@pytest.mark.slow
def test_read_against_the_real_gunicorn_counts_in_metrics_and_the_access_log(http_server, number_png):
    server = http_server
    counted = {
        "reads": ("digit_serve_read_digits_count", {}),
        "digits": ("digit_serve_read_digits_sum", {}),
        "not_digits": ("digit_serve_digit_checks_total", {"verdict": "not_digit"}),
        "checked_digits": ("digit_serve_digit_checks_total", {"verdict": "digit"}),
        "answered": ("digit_serve_requests_total", {"endpoint": "/read", "model": "cnn", "status": "200"}),
    }

    def counts() -> dict[str, float]:
        text = requests.get(f"{server.url}/metrics", timeout=10).text
        return {key: sample(name, text, **labels) for key, (name, labels) in counted.items()}

    before = counts()
    for _ in range(3):
        response = requests.post(
            f"{server.url}/read",
            data=number_png,
            headers={"Content-Type": "image/png", "X-Request-ID": "read-1"},
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["text"] == "2026"
    letter = requests.post(f"{server.url}/predict", data=drawn(A_LETTER), timeout=10).json()
    assert letter["predictions"][0]["is_digit"] is False
    after = counts()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert {key: after[key] - before[key] for key in counted} == {
        "reads": 3,
        "digits": 12,
        "not_digits": 1,
        "checked_digits": 12,  # /read's digits are checked and counted as /predict's are
        "answered": 3,
    }
    entry = next(line for line in lines if line.get("request_id") == "read-1")
    assert entry["path"] == "/read" and entry["model"] == "cnn" and entry["marks"] == 4 and entry["non_digits"] == 0
    assert entry["instances"] == 4
    assert all(np.isfinite(line["latency_ms"]) for line in lines)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    width=st.integers(1, 240),
    height=st.integers(1, 240),
    mode=st.sampled_from(["L", "RGB", "RGBA", "1", "P"]),
    fmt=st.sampled_from(["PNG", "JPEG", "GIF", "BMP"]),
    pattern=st.sampled_from(["noise", "blobs", "stripes", "flat"]),
    seed=st.integers(0, 2**16),
)
def test_any_image_is_read_or_refused_with_a_4xx_never_a_5xx(client, width, height, mode, fmt, pattern, seed):
    """Any size, mode, format and content: a reading whose boxes lie inside the image, or a clear 4xx."""
    rng = np.random.default_rng(seed)
    if pattern == "noise":
        pixels = rng.integers(0, 256, (height, width, 3))
    elif pattern == "blobs":
        pixels = np.full((height, width, 3), 230)
        for _ in range(int(rng.integers(1, 12))):
            y, x = rng.integers(0, height), rng.integers(0, width)
            pixels[y : y + int(rng.integers(1, 40)), x : x + int(rng.integers(1, 40))] = rng.integers(0, 120)
    elif pattern == "stripes":
        pixels = np.where((np.arange(width) // max(1, int(rng.integers(1, 20)))) % 2, 20, 235)[None, :, None]
        pixels = np.broadcast_to(pixels, (height, width, 3))
    else:
        pixels = np.full((height, width, 3), int(rng.integers(0, 256)))
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "RGB").convert(mode)
    if fmt == "JPEG" and mode not in ("L", "RGB"):
        image = image.convert("RGB")
    response = client.post("/read", data=encode(image, fmt), content_type="application/octet-stream")
    assert response.status_code in (200, 413, 415, 422), (response.status_code, response.get_data()[:300])
    if response.status_code == 200:
        body = response.json
        lines = ["".join(c["label"] for c in body["characters"] if c["line"] == i) for i in range(len(body["lines"]))]
        assert body["text"] == "\n".join(lines) == "\n".join(line["text"] for line in body["lines"])
        assert body["characters"]
        for digit in body["characters"] + body["lines"]:
            x, y, w, h = digit["box"]
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= width and y + h <= height, (
                digit,
                width,
                height,
            )
    else:
        assert response.json["error"]["message"]
