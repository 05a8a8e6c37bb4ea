"""The open inference protocol's request parsing and response encoding, without HTTP."""

import numpy as np
import orjson
import pytest

from service.core.tensors import OutputTensor, model_config, model_metadata
from service.errors import BadRequest
from service.transport.http.v2_codec import encode_infer_response, parse_infer_request


@pytest.fixture(scope="module")
def mlp(app):
    return app.extensions["runtime"].registry.get("mlp")


def _json_request(data, shape, datatype="FP32", **extra) -> bytes:
    return orjson.dumps({"inputs": [{"name": "pixels", "shape": shape, "datatype": datatype, "data": data}], **extra})


def test_json_tensor_is_parsed_to_the_models_dtype_and_shape(mlp):
    request = parse_infer_request(_json_request([0.5] * 1568, [2, 784], id="abc"), None, mlp)
    assert request.inputs["pixels"].shape == (2, 784)
    assert request.inputs["pixels"].dtype == np.float32
    assert request.outputs == ["probabilities"]
    assert request.binary_outputs == {"probabilities": False}
    assert request.id == "abc"


def test_nested_json_data_is_accepted(mlp):
    request = parse_infer_request(_json_request([[0.0] * 784], [1, 784]), None, mlp)
    assert request.inputs["pixels"].shape == (1, 784)


def test_binary_input_and_binary_output_request(mlp):
    raw = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [3, 784],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": raw.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    request = parse_infer_request(header + raw.tobytes(), str(len(header)), mlp)
    np.testing.assert_array_equal(request.inputs["pixels"], raw)
    assert request.binary_outputs == {"probabilities": True}
    ones = OutputTensor("probabilities", "FP32", [3, 10], np.ones((3, 10), dtype="<f4"))
    body, length = encode_infer_response(mlp, request, [ones])
    response = orjson.loads(body[:length])
    assert response["outputs"][0]["parameters"]["binary_data_size"] == 120
    np.testing.assert_array_equal(np.frombuffer(body[length:], dtype=np.float32), np.ones(30))


def test_raw_body_with_header_length_zero_is_the_single_input(mlp):
    raw = np.zeros((4, 784), dtype=np.float32).tobytes()
    request = parse_infer_request(raw, "0", mlp)
    assert request.inputs["pixels"].shape == (4, 784)
    with pytest.raises(BadRequest, match="whole number"):
        parse_infer_request(raw[:-4], "0", mlp)


def test_shape_error_names_expected_and_received_with_a_batch_hint(mlp):
    with pytest.raises(BadRequest) as error:
        parse_infer_request(_json_request([0.0] * 784, [784]), None, mlp)
    message = error.value.message
    assert "unexpected shape [784], expected [-1, 784]" in message
    assert "the first dimension is the batch" in message
    assert "[1, 784]" in message


@pytest.mark.parametrize(
    ("data", "shape", "datatype", "match"),
    [
        ([0.0] * 784, [1, 784], "FP64", "datatype FP64 does not match the model's FP32"),
        ([0.0] * 783, [1, 784], "FP32", "needs 784 values, got 783"),
        (["a"] * 784, [1, 784], "FP32", "must be FP32 numbers"),
        ([0.0] * 784, [1, "784"], "FP32", "shape must be a list of integers"),
        ([0.0] * 784, [1, 28, 28], "FP32", "unexpected shape"),
        ([0.0] * 784, [-1, 784], "FP32", "negative size"),
        ([True] * 784, [1, 784], "FP32", "must be FP32 numbers"),
        ([[0.0] * 784, [0.0]], [2, 784], "FP32", "regular nested list"),
    ],
)
def test_wrong_tensors_are_400_with_a_reason(mlp, data, shape, datatype, match):
    with pytest.raises(BadRequest, match=match):
        parse_infer_request(_json_request(data, shape, datatype), None, mlp)


def test_unknown_input_and_output_names_are_refused(mlp):
    body = orjson.dumps({"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": [0] * 784}]})
    with pytest.raises(BadRequest, match="unexpected input 'x'"):
        parse_infer_request(body, None, mlp)
    with pytest.raises(BadRequest, match="unexpected output 'logits'"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], outputs=[{"name": "logits"}]), None, mlp)


@pytest.mark.parametrize("extra", [{"parameters": "x"}, {"outputs": [{"name": "probabilities", "parameters": 1}]}])
def test_parameters_that_are_not_objects_are_400(mlp, extra):
    with pytest.raises(BadRequest, match="must be an object"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], **extra), None, mlp)


def test_out_of_range_float_is_refused_without_warnings(app):
    linear = app.extensions["runtime"].registry.get("linear")
    body = orjson.dumps({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1e39]}]})
    with pytest.raises(BadRequest, match="finite"):
        parse_infer_request(body, None, linear)


def test_binary_sizes_must_add_up(mlp):
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "pixels", "shape": [1, 784], "datatype": "FP32", "parameters": {"binary_data_size": 3136}}
            ]
        }
    )
    with pytest.raises(BadRequest, match="beyond"):
        parse_infer_request(header + b"\0" * 100, str(len(header)), mlp)
    with pytest.raises(BadRequest, match="not claimed"):
        parse_infer_request(header + b"\0" * 3200, str(len(header)), mlp)
    with pytest.raises(BadRequest, match="outside the body"):
        parse_infer_request(header, str(len(header) + 5), mlp)
    with pytest.raises(BadRequest, match="integer"):
        parse_infer_request(header, "ten", mlp)
    boolean = orjson.dumps(
        {
            "inputs": [
                {"name": "pixels", "shape": [1, 784], "datatype": "FP32", "parameters": {"binary_data_size": True}}
            ]
        }
    )
    with pytest.raises(BadRequest, match="binary_data_size True"):
        parse_infer_request(boolean, str(len(boolean)), mlp)


def test_non_finite_binary_data_is_refused(mlp):
    raw = np.full((1, 784), np.nan, dtype=np.float32)
    with pytest.raises(BadRequest, match="finite"):
        parse_infer_request(raw.tobytes(), "0", mlp)


def test_metadata_and_config_describe_the_model(mlp):
    metadata = model_metadata(mlp, [1])
    assert metadata == {
        "name": "mlp",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 784]}],
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]}],
    }
    config = model_config(mlp, 256)
    assert config["max_batch_size"] == 256
    assert config["input"] == [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [784]}]


@pytest.mark.parametrize("name", [["pixels"], {"a": 1}, 3, None])
def test_an_input_name_that_is_not_a_string_is_a_400(mlp, name):
    body = orjson.dumps({"inputs": [{"name": name, "shape": [1, 784], "datatype": "FP32", "data": [0.0] * 784}]})
    with pytest.raises(BadRequest, match="unexpected input"):
        parse_infer_request(body, None, mlp)


@pytest.mark.parametrize("name", [{}, ["probabilities"], 7, None])
def test_an_output_name_that_is_not_a_string_is_a_400(mlp, name):
    with pytest.raises(BadRequest, match="unexpected output"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], outputs=[{"name": name}]), None, mlp)


def test_an_output_asked_for_twice_is_a_400(mlp):
    twice = [{"name": "probabilities"}, {"name": "probabilities"}]
    with pytest.raises(BadRequest, match="asked for twice"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], outputs=twice), None, mlp)


# 2**60 x 784 elements: np.prod wraps to 0 in 64 bits, which an empty tensor then matched.
HUGE = [1 << 60, 784]


def test_a_shape_whose_count_overflows_64_bits_is_a_400_as_json_and_as_binary(mlp):
    with pytest.raises(BadRequest, match=f"needs {HUGE[0] * HUGE[1]} values, got 0"):
        parse_infer_request(_json_request([], HUGE), None, mlp)
    header = orjson.dumps(
        {"inputs": [{"name": "pixels", "shape": HUGE, "datatype": "FP32", "parameters": {"binary_data_size": 0}}]}
    )
    with pytest.raises(BadRequest, match=f"needs {HUGE[0] * HUGE[1] * 4} bytes, got 0"):
        parse_infer_request(header, str(len(header)), mlp)


@pytest.mark.parametrize("request_id", [7, {"a": 1}, ["x"], True])
def test_an_id_that_is_not_a_string_is_a_400_not_its_repr(mlp, request_id):
    with pytest.raises(BadRequest, match="'id' must be a string"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], id=request_id), None, mlp)


@pytest.mark.parametrize(
    "extra",
    [
        {"parameters": {"binary_data_output": "false"}},  # was read as true
        {"parameters": {"binary_data_output": 1}},
        {"outputs": [{"name": "probabilities", "parameters": {"binary_data": "yes"}}]},
    ],
)
def test_binary_flags_must_be_booleans(mlp, extra):
    with pytest.raises(BadRequest, match="must be true or false"):
        parse_infer_request(_json_request([0.0] * 784, [1, 784], **extra), None, mlp)


def test_boolean_binary_flags_are_honoured(mlp):
    request = parse_infer_request(
        _json_request([0.0] * 784, [1, 784], parameters={"binary_data_output": True}), None, mlp
    )
    assert request.binary_outputs == {"probabilities": True}
    asked = [{"name": "probabilities", "parameters": {"binary_data": False}}]
    request = parse_infer_request(
        _json_request([0.0] * 784, [1, 784], parameters={"binary_data_output": True}, outputs=asked), None, mlp
    )
    assert request.binary_outputs == {"probabilities": False}
