"""The official tritonclient[http], unmodified, against the real gunicorn on loopback."""

import numpy as np
import pytest
import requests
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.fixtures import LOADED, NEWEST, PROTOCOL_ADMIN_TOKEN, PROTOCOL_MAX_INSTANCES, committed_versions

pytestmark = pytest.mark.slow
TOKEN = PROTOCOL_ADMIN_TOKEN


@pytest.fixture(scope="module")
def server(protocol_server):
    return protocol_server.server


@pytest.fixture(scope="module")
def client(server):
    client = httpclient.InferenceServerClient(
        server.url.removeprefix("http://"), connection_timeout=10, network_timeout=30
    )
    yield client
    client.close()


def test_server_and_model_health(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    for name in ("mlp", "cnn", "linear"):
        assert client.is_model_ready(name)
        assert client.is_model_ready(name, str(LOADED[name][0]))
    assert not client.is_model_ready("resnet")
    assert not client.is_model_ready("mlp", "9")


def test_server_metadata(client):
    metadata = client.get_server_metadata()
    assert metadata["name"] == "digit-serve"
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_and_config(client):
    metadata = client.get_model_metadata("cnn")
    assert metadata["platform"] == "onnxruntime_onnx"
    assert metadata["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": [-1, 28, 28, 1]}]
    assert client.get_model_metadata("cnn", str(LOADED["cnn"][0]))["versions"] == [str(v) for v in LOADED["cnn"]]
    config = client.get_model_config("linear")
    assert config["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [1]}]
    assert config["max_batch_size"] == PROTOCOL_MAX_INSTANCES


def _classifier_inputs(images: np.ndarray, name: str, binary: bool) -> httpclient.InferInput:
    pixels = (images / 255.0).astype(np.float32)
    pixels = pixels.reshape(len(images), 784) if name == "mlp" else pixels[..., None]
    tensor = httpclient.InferInput("pixels", list(pixels.shape), "FP32")
    tensor.set_data_from_numpy(pixels, binary_data=binary)
    return tensor


@pytest.mark.parametrize("name", ["mlp", "cnn"])
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("batch", [1, 256])
def test_infer_classifiers_json_and_binary(client, mnist_sample, name, binary, batch):
    images, labels = mnist_sample
    outputs = [httpclient.InferRequestedOutput("probabilities", binary_data=binary)]
    result = client.infer(name, [_classifier_inputs(images[:batch], name, binary)], outputs=outputs, request_id="req-1")
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (batch, 10)
    assert result.get_response()["id"] == "req-1"
    assert result.get_response()["model_version"] == str(NEWEST[name])
    accuracy = np.mean(probabilities.argmax(axis=1) == labels[:batch])
    assert accuracy >= (0.97 if batch > 1 else 1.0)


def test_infer_default_outputs_come_back_binary(client, mnist_sample):
    images, labels = mnist_sample
    result = client.infer("mlp", [_classifier_inputs(images[:4], "mlp", True)])  # no outputs: binary_data_output
    assert result.get_response()["outputs"][0]["parameters"]["binary_data_size"] == 160
    assert result.as_numpy("probabilities").argmax(axis=1).tolist() == labels[:4].tolist()


@pytest.mark.parametrize("binary", [False, True])
def test_infer_linear(client, binary, models_dir):
    import json

    card = json.loads((models_dir / "linear" / "1" / "model.json").read_text())
    x = np.array([[0.0], [1.0], [10.0]], dtype=np.float32)
    tensor = httpclient.InferInput("x", [3, 1], "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    result = client.infer(
        "linear", [tensor], model_version="1", outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)]
    )
    w, b = card["coefficients"]["w"], card["coefficients"]["b"]
    np.testing.assert_allclose(result.as_numpy("y")[:, 0], [b, w + b, 10 * w + b], rtol=1e-5)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@pytest.mark.parametrize("binary", [False, True])
def test_compressed_requests_and_responses(client, mnist_sample, algorithm, binary):
    images, labels = mnist_sample
    result = client.infer(
        "cnn",
        [_classifier_inputs(images[:8], "cnn", binary)],
        outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=binary)],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    assert result.as_numpy("probabilities").argmax(axis=1).tolist() == labels[:8].tolist()


def test_unknown_model_and_bad_shape_errors(client):
    tensor = httpclient.InferInput("pixels", [1, 784], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 784), dtype=np.float32))
    with pytest.raises(InferenceServerException, match="unknown model 'resnet'"):
        client.infer("resnet", [tensor])
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.get_model_metadata("resnet")
    flat = httpclient.InferInput("pixels", [784], "FP32")
    flat.set_data_from_numpy(np.zeros(784, dtype=np.float32))
    with pytest.raises(InferenceServerException, match=r"expected \[-1, 784\].*first dimension is the batch"):
        client.infer("mlp", [flat])
    wrong_type = httpclient.InferInput("pixels", [1, 784], "FP64")
    wrong_type.set_data_from_numpy(np.zeros((1, 784), dtype=np.float64))
    with pytest.raises(InferenceServerException, match="datatype FP64"):
        client.infer("mlp", [wrong_type])


def test_protocol_errors_are_400_with_a_plain_error_string(server):
    response = requests.post(f"{server.url}/v2/models/mlp/infer", data=b'{"inputs": [}', timeout=10)
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_raw_body_with_header_length_zero(server, mnist_sample):
    images, labels = mnist_sample
    raw = (images[:3] / 255.0).astype(np.float32).reshape(3, 784).tobytes()
    response = requests.post(
        f"{server.url}/v2/models/mlp/infer", data=raw, headers={"Inference-Header-Content-Length": "0"}, timeout=10
    )
    assert response.status_code == 200
    length = int(response.headers["Inference-Header-Content-Length"])
    probabilities = np.frombuffer(response.content[length:], dtype=np.float32).reshape(3, 10)
    assert probabilities.argmax(axis=1).tolist() == labels[:3].tolist()


def test_model_control_needs_the_admin_token(client, server):
    with pytest.raises(InferenceServerException, match="Authorization"):
        client.get_model_repository_index()
    with pytest.raises(InferenceServerException, match="Authorization"):
        client.load_model("mlp", headers={"Authorization": "Bearer wrong"})
    index = client.get_model_repository_index(headers={"Authorization": f"Bearer {TOKEN}"})
    assert {"name": "mlp", "version": "1", "state": "READY", "reason": ""} in index
    assert requests.post(f"{server.url}/v2/repository/index", timeout=5).status_code == 401


def test_model_control_disabled_without_a_token(http_server):
    response = requests.post(f"{http_server.url}/v2/repository/models/mlp/load", timeout=10)
    assert response.status_code == 403
    assert "ADMIN_TOKEN" in response.json()["error"]


def test_inference_statistics_count_what_was_served(client, server):
    version = str(NEWEST["linear"])
    before = client.get_inference_statistics("linear", version)["model_stats"][0]
    tensor = httpclient.InferInput("x", [3, 1], "FP32")
    tensor.set_data_from_numpy(np.ones((3, 1), dtype=np.float32))
    for _ in range(2):
        client.infer("linear", [tensor])
    after = client.get_inference_statistics("linear", version)["model_stats"][0]
    assert (
        after["inference_count"] - before["inference_count"],
        after["execution_count"] - before["execution_count"],
    ) == (6, 2)
    every = requests.get(f"{server.url}/v2/models/stats", timeout=10).json()["model_stats"]
    assert {(entry["name"], entry["version"]) for entry in every} == {
        (name, str(number))
        for name in NEWEST
        for number in committed_versions(name)[-3:]  # MAX_VERSIONS loaded
    }
    with pytest.raises(InferenceServerException, match="unknown model 'resnet'"):
        client.get_inference_statistics("resnet")


def test_health_answers_carry_the_protocols_json_bodies_and_tritonclient_still_reads_them(client, server):
    """The prose of the specification: {"live": true}, {"ready": true}, {"name": ..., "ready": true}."""
    assert requests.get(f"{server.url}/v2/health/live", timeout=5).json() == {"live": True}
    assert requests.get(f"{server.url}/v2/health/ready", timeout=5).json() == {"ready": True}
    assert requests.get(f"{server.url}/v2/models/mlp/ready", timeout=5).json() == {"name": "mlp", "ready": True}
    assert requests.get(f"{server.url}/v2/models/mlp/versions/1/ready", timeout=5).json()["ready"] is True
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("mlp")
    unknown = requests.get(f"{server.url}/v2/models/resnet/ready", timeout=5)
    assert unknown.status_code == 404 and "unknown model" in unknown.json()["error"]
