"""The open inference protocol's rules as one table, each row run over HTTP JSON, HTTP binary and gRPC.

A row is a request (model, input tensors, outputs asked for) and what every transport must answer: the HTTP
status with the protocol's `{"error": ...}` body, the gRPC status code, and a part of the message that all
three share. A new rule is one row. One real server on loopback, both protocols; requests are built by
hand (not through tritonclient, which refuses some of them itself) so that the server's own checks answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest
import requests
from tritonclient.grpc import service_pb2 as triton_pb2

from tests.fixtures import PROTOCOL_MAX_INSTANCES

pytestmark = pytest.mark.slow
HUGE = 1 << 60  # times 784 the element count no longer fits in 64 bits
LIMIT = PROTOCOL_MAX_INSTANCES


@dataclass
class Tensor:
    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray | None  # None: no data at all


@dataclass
class Rule:
    what: str
    model: str
    inputs: list[Tensor]
    outputs: list[str] = field(default_factory=list)
    http: int = 200
    grpc_code: grpc.StatusCode = grpc.StatusCode.OK
    message: str = ""  # a part of the error message every transport gives
    message_over: dict[str, str] = field(default_factory=dict)  # a transport that must say something else


PIXELS = Tensor("pixels", "FP32", [1, 784], np.full((1, 784), 0.5, np.float32))
RULES = [
    Rule("a valid request", "mlp", [PIXELS]),
    Rule("only the output asked for", "mlp", [PIXELS], ["probabilities"]),
    Rule(
        "an unknown model",
        "resnet",
        [PIXELS],
        http=404,
        grpc_code=grpc.StatusCode.NOT_FOUND,
        message="unknown model 'resnet'",
    ),
    Rule(
        "an unknown version",
        "mlp:9",
        [PIXELS],
        http=404,
        grpc_code=grpc.StatusCode.NOT_FOUND,
        message="has no version 9",
    ),
    Rule(
        "an input the model does not have",
        "mlp",
        [Tensor("image", "FP32", [1, 784], np.zeros((1, 784), np.float32))],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="unexpected input 'image'",
    ),
    Rule(
        "a datatype other than the model's",
        "mlp",
        [Tensor("pixels", "FP64", [1, 784], np.zeros((1, 784), np.float64))],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="datatype FP64 does not match the model's FP32",
    ),
    Rule(
        "a shape the model does not take",
        "mlp",
        [Tensor("pixels", "FP32", [1, 783], np.zeros((1, 783), np.float32))],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="unexpected shape [1, 783]",
    ),
    Rule(
        "NaN in a float tensor",
        "mlp",
        [Tensor("pixels", "FP32", [1, 784], np.full((1, 784), np.nan, np.float32))],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="must be finite",
        message_over={"http-json": "malformed JSON"},  # JSON has no NaN: the request is not JSON at all
    ),
    Rule(
        "a shape whose element count overflows 64 bits",
        "mlp",
        [Tensor("pixels", "FP32", [HUGE, 784], None)],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message=f"input 'pixels': shape [{HUGE}, 784]",  # then "needs N values" or "of FP32 needs N bytes"
    ),
    Rule(
        "an output the model does not have",
        "mlp",
        [PIXELS],
        ["scores"],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="unexpected output 'scores'",
    ),
    Rule(
        "an output asked for twice",
        "mlp",
        [PIXELS],
        ["probabilities", "probabilities"],
        http=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
        message="output 'probabilities' is asked for twice",
    ),
    Rule(
        "more instances than MAX_INSTANCES",
        "linear",
        [Tensor("x", "FP32", [LIMIT + 1, 1], np.zeros((LIMIT + 1, 1), np.float32))],
        http=413,
        grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED,
        message=f"{LIMIT + 1} instances in one request; the limit is {LIMIT}",
    ),
]


@pytest.fixture(scope="module")
def served(protocol_server):
    channel = grpc.insecure_channel(protocol_server.grpc_target)
    yield protocol_server.url, channel
    channel.close()


def _path(model: str) -> str:
    name, _, version = model.partition(":")
    return f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/infer"


def _http(url: str, rule: Rule, binary: bool) -> tuple[int, str, dict]:
    tensors, raw = [], b""
    for tensor in rule.inputs:
        entry: dict = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        values = tensor.values if tensor.values is not None else np.zeros(0, np.float32)
        if binary:
            data = values.astype(values.dtype.newbyteorder("<")).tobytes()
            entry["parameters"] = {"binary_data_size": len(data)}
            raw += data
        else:
            entry["data"] = values.ravel().tolist()
        tensors.append(entry)
    header = json.dumps(
        {"inputs": tensors, "outputs": [{"name": name} for name in rule.outputs]}
        if rule.outputs
        else {"inputs": tensors},
        allow_nan=True,
    ).encode()
    headers = {"Content-Type": "application/json"}
    if binary:
        headers["Inference-Header-Content-Length"] = str(len(header))
    response = requests.post(url + _path(rule.model), data=header + raw, headers=headers, timeout=20)
    body = response.json()
    return response.status_code, body.get("error", "") if isinstance(body, dict) else "", body


def _grpc(channel: grpc.Channel, rule: Rule) -> tuple[grpc.StatusCode, str, object]:
    name, _, version = rule.model.partition(":")
    request = triton_pb2.ModelInferRequest(model_name=name, model_version=version)
    for tensor in rule.inputs:
        request.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        values = tensor.values if tensor.values is not None else np.zeros(0, np.float32)
        request.raw_input_contents.append(values.astype(values.dtype.newbyteorder("<")).tobytes())
    for output in rule.outputs:
        request.outputs.add(name=output)
    call = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=triton_pb2.ModelInferRequest.SerializeToString,
        response_deserializer=triton_pb2.ModelInferResponse.FromString,
    )
    try:
        return grpc.StatusCode.OK, "", call(request, timeout=20)
    except grpc.RpcError as error:
        return error.code(), error.details() or "", None


@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.what)
def test_each_rule_holds_over_every_transport(served, rule, transport):
    url, channel = served
    if transport == "grpc":
        code, message, answer = _grpc(channel, rule)
        assert code == rule.grpc_code, message
        if code == grpc.StatusCode.OK:
            names = [output.name for output in answer.outputs]
            assert names == (rule.outputs or ["probabilities"])
            assert list(answer.outputs[0].shape) == [1, 10]
    else:
        status, message, body = _http(url, rule, binary=transport == "http-binary")
        assert status == rule.http, body
        if status == 200:
            assert [output["name"] for output in body["outputs"]] == (rule.outputs or ["probabilities"])
            assert body["outputs"][0]["shape"] == [1, 10]
    assert rule.message_over.get(transport, rule.message) in message
