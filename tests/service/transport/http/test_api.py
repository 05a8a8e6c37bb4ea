"""Every endpoint and every error through the Flask test client, on the committed models."""

import gzip
import io
import json
import zlib

import numpy as np
import pytest
from PIL import Image

from service import create_app
from service.core.registry import ModelRegistry
from service.settings import Settings
from tests.fixtures import LOADED, NEWEST, committed_versions
from tests.images import encode, png


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return body["error"]["message"]


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["models"] == NEWEST


def test_readiness_is_503_until_models_are_loaded(settings):
    registry = ModelRegistry.for_device(settings.model_dir, ["CPUExecutionProvider"], 1)
    app = create_app(settings, registry=registry)
    assert app.test_client().get("/readyz").status_code == 503
    registry.load_all()
    assert app.test_client().get("/readyz").status_code == 200


def test_models_list_and_describe(client):
    models = {m["name"]: m for m in client.get("/models").get_json()["models"]}
    assert set(models) == {"charmodel", "cnn", "isdigit", "linear", "linereader", "mlp"}
    mlp = models["mlp"]
    assert mlp["versions"] == committed_versions("mlp")
    assert mlp["served_version"] == NEWEST["mlp"]
    assert mlp["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": [-1, 784]}]
    assert mlp["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}]
    assert mlp["metrics"]["test_accuracy"] >= 0.983
    assert mlp["provider"] == "CPUExecutionProvider"
    assert client.get("/models/cnn").get_json()["parameters"] == 93_322
    assert client.get(f"/models/cnn/versions/{LOADED['cnn'][0]}").get_json()["version"] == LOADED["cnn"][0]
    _error(client.get("/models/resnet"), 404, "model_not_found")
    _error(client.get("/models/cnn/versions/7"), 404, "model_not_found")


def test_json_pixels_for_mlp_and_cnn(client, mnist_sample):
    images, labels = mnist_sample
    pixels = (images[:20] / 255.0).round(4)
    for model, inputs in (("mlp", pixels.reshape(20, 784)), ("cnn", pixels), ("cnn", pixels[..., None])):
        response = client.post("/predict", json={"model": model, "inputs": inputs.tolist()})
        assert response.status_code == 200
        body = response.get_json()
        assert body["model"] == model
        assert body["version"] == NEWEST[model]
        predicted = [p["label"] for p in body["predictions"]]
        assert np.mean(np.array(predicted) == labels[:20]) >= 0.95
        first = body["predictions"][0]
        assert len(first["probabilities"]) == 10
        assert first["confidence"] == max(first["probabilities"])
        assert sum(first["probabilities"]) == pytest.approx(1.0, abs=1e-4)


def test_model_and_version_from_query_string(client, mnist_sample):
    images, _ = mnist_sample
    body = {"inputs": (images[:1] / 255.0).reshape(1, 784).tolist()}
    response = client.post("/predict?model=mlp&version=1", json=body)
    assert (response.get_json()["model"], response.get_json()["version"]) == ("mlp", 1)


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0", None),
        ("gzip;q=0, deflate", "deflate"),
        ("gzip;q=0.5, deflate", "deflate"),
        ("identity", None),
        ("", None),
    ],
)
def test_v2_response_compression_follows_accept_encoding_with_q_values(client, accept, encoding):
    body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}
    response = client.post("/v2/models/linear/infer", json=body, headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    raw = response.get_data()
    data = gzip.decompress(raw) if encoding == "gzip" else zlib.decompress(raw) if encoding == "deflate" else raw
    assert json.loads(data)["model_name"] == "linear"


def test_linear_predictions_are_w_x_plus_b(client, models_dir):
    card = json.loads((models_dir / "linear" / "1" / "model.json").read_text())
    w, b = card["coefficients"]["w"], card["coefficients"]["b"]
    body = client.post("/predict", json={"model": "linear", "inputs": [1.5, [2], 0]}).get_json()
    assert body["model"] == "linear"
    assert body["version"] == 1
    np.testing.assert_allclose(body["predictions"], [1.5 * w + b, 2 * w + b, b], rtol=1e-5)


def test_curl_style_form_urlencoded_json_body_is_accepted(client):
    response = client.post(
        "/predict", data='{"model": "linear", "inputs": [1]}', content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200


def test_raw_png_body_defaults_to_cnn(client, digit):
    response = client.post("/predict", data=png(digit), content_type="image/png")
    body = response.get_json()
    assert body["model"] == "cnn"
    assert body["predictions"][0]["label"] == 7


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/octet-stream"])
def test_image_body_without_an_image_content_type_is_still_decoded(client, digit, content_type):
    response = client.post("/predict", data=png(digit), content_type=content_type)
    assert response.get_json()["predictions"][0]["label"] == 7
    garbage = client.post("/predict", data=b"x=1&y=2", content_type=content_type)
    assert garbage.status_code == 415


def test_multipart_images_are_answered_in_order(client, mnist_sample):
    images, labels = mnist_sample
    files = [(io.BytesIO(png(images[i])), f"{i}.png") for i in range(8)]
    response = client.post("/predict", data={"image": files, "model": "mlp"}, content_type="multipart/form-data")
    body = response.get_json()
    assert body["model"] == "mlp"
    assert [p["label"] for p in body["predictions"]] == labels[:8].tolist()


def test_preprocessed_flag_returns_what_the_model_saw(client, digit):
    response = client.post("/predict?preprocessed=true", data=png(255 - digit), content_type="image/png")
    seen = np.array(response.get_json()["preprocessed"])
    assert seen.shape == (1, 28, 28)
    assert np.abs(seen[0] - digit / 255.0).max() < 1e-3


def test_error_400_malformed_json(client):
    assert "malformed JSON" in _error(
        client.post("/predict", data="{", content_type="application/json"), 400, "bad_request"
    )


@pytest.mark.parametrize("name", ["linereader", "charmodel"])
def test_predict_refuses_the_readers_of_read_and_says_where_they_serve(client, name):
    for response in (
        client.post("/predict", json={"model": name, "inputs": [[[[0.0]] * 32] * 32]}),
        client.post(f"/predict?model={name}", data=png(np.zeros((28, 28), np.uint8)), content_type="image/png"),
    ):
        message = _error(response, 400, "bad_request")
        assert "/read" in message and f"/v2/models/{name}/infer" in message


def test_error_404_unknown_model_and_version(client):
    message = _error(client.post("/predict", json={"model": "resnet", "inputs": [1]}), 404, "model_not_found")
    assert "available: charmodel, cnn, isdigit, linear, linereader, mlp" in message
    _error(client.post("/predict", json={"model": "mlp", "version": 9, "inputs": [[0] * 784]}), 404, "model_not_found")
    _error(client.post("/predict?version=latest", json={"model": "mlp", "inputs": [[0] * 784]}), 404, "model_not_found")


@pytest.mark.parametrize("version", [True, 1.5, "latest", {"v": 1}, [1], "-1"])
def test_error_404_versions_that_are_not_integers(client, version):
    _error(client.post("/predict", json={"model": "linear", "version": version, "inputs": [1]}), 404, "model_not_found")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("[" * 5000 + "]" * 5000, 400, "bad_request"),  # nested deeper than a JSON parser will go
        ('{"model": "mlp", "inputs": ' + "[" * 40 + "0" + "]" * 40 + "}", 422, "invalid_input"),  # valid, wrong shape
        ('{"model": "linear", "inputs": [1' + "0" * 400 + "]}", 422, "invalid_input"),  # beyond the float range
        (b'\xff\xfe{"a": 1}', 400, "bad_request"),  # not UTF-8
    ],
)
def test_hostile_json_is_refused_with_its_documented_error(client, body, status, code):
    _error(client.post("/predict", data=body, content_type="application/json"), status, code)


def test_error_404_and_405_are_json(client):
    _error(client.get("/nowhere"), 404, "not_found")
    response = client.get("/predict")
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_error_413_body_too_large(client):
    _error(client.post("/predict", data=b"0" * (3 * 1024 * 1024), content_type="image/png"), 413, "payload_too_large")


def test_error_413_too_many_instances_and_images(client, digit):
    _error(client.post("/predict", json={"model": "linear", "inputs": list(range(301))}), 413, "payload_too_large")
    files = [(io.BytesIO(png(digit)), "d.png") for _ in range(301)]
    _error(client.post("/predict", data={"image": files}, content_type="multipart/form-data"), 413, "payload_too_large")


def test_error_413_image_with_too_many_pixels(client):
    big = encode(Image.new("L", (2100, 2000)), "PNG")  # 4.2 million pixels, over the 4 million limit
    _error(client.post("/predict", data=big, content_type="image/png"), 413, "payload_too_large")


def test_error_415_unsupported_and_undecodable_media(client):
    _error(client.post("/predict", data=b"%PDF-1.4", content_type="application/pdf"), 415, "unsupported_media_type")
    _error(client.post("/predict", data=b"not a png", content_type="image/png"), 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "payload",
    [
        {"model": "mlp", "inputs": [[0.0] * 783]},
        {"model": "mlp", "inputs": [[2.0] * 784]},
        {"model": "mlp", "inputs": "pixels"},
        {"model": "mlp"},
        {"model": 5, "inputs": [1]},
        {"model": "linear", "inputs": [[1, 2]]},
        {"model": "linear", "inputs": ["7"]},
        [1, 2, 3],
    ],
)
def test_error_422_wrong_shape_type_or_range(client, payload):
    _error(client.post("/predict", json=payload), 422, "invalid_input")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_error_422_non_finite_numbers(client, number):
    body = f'{{"model": "linear", "inputs": [{number}]}}'
    _error(client.post("/predict", data=body, content_type="application/json"), 422, "invalid_input")


def test_error_422_images_sent_to_the_linear_model(client, digit):
    message = _error(
        client.post("/predict?model=linear", data=png(digit), content_type="image/png"), 422, "invalid_input"
    )
    assert "takes numbers" in message


def test_error_422_multipart_without_image_field(client, digit):
    response = client.post(
        "/predict", data={"file": (io.BytesIO(png(digit)), "d.png")}, content_type="multipart/form-data"
    )
    assert "field 'image'" in _error(response, 422, "invalid_input")


def test_error_422_blank_image(client):
    _error(
        client.post("/predict", data=encode(Image.new("L", (64, 64), 255)), content_type="image/png"),
        422,
        "invalid_input",
    )


def test_settings_limits_come_from_the_environment(models_dir):
    settings = Settings.from_env({"MODEL_DIR": str(models_dir), "MAX_INSTANCES": "2", "WORKERS": "1"})
    client = create_app(settings).test_client()
    _error(client.post("/predict", json={"model": "linear", "inputs": [1, 2, 3]}), 413, "payload_too_large")


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": {}}]},
        {"inputs": [{"name": "x", "shape": [1 << 60, 1], "datatype": "FP32", "data": []}]},
    ],
    ids=["output-name-object", "count-beyond-64-bits"],
)
def test_protocol_inputs_that_used_to_be_500s_are_400s_with_a_json_error(client, body):
    response = client.post("/v2/models/linear/infer", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_server_metadata_answers_at_v2_with_and_without_the_trailing_slash(client):
    """The protocol's REST document writes the path as GET v2/ ."""
    plain, slashed = client.get("/v2"), client.get("/v2/")
    assert plain.status_code == slashed.status_code == 200
    assert slashed.get_json() == plain.get_json()
    assert plain.get_json()["name"] == "digit-serve"
