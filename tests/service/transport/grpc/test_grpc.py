"""The open inference protocol over gRPC, with the official tritonclient.grpc, against the real server on loopback.

This module never imports the service's own generated protobuf modules: they and tritonclient's both define
the `inference` package, and one process's protobuf registry takes only one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from tritonclient.grpc import model_config_pb2 as triton_config_pb2
from tritonclient.grpc import service_pb2 as triton_pb2
from tritonclient.utils import InferenceServerException

from support.server import ROOT, running_server, unused_port, wait_grpc_ready, wait_until
from tests.fixtures import NEWEST, PROTOCOL_ADMIN_TOKEN, PROTOCOL_MAX_INSTANCES, committed_versions

pytestmark = pytest.mark.slow
TOKEN = PROTOCOL_ADMIN_TOKEN
ADMIN = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served(protocol_server):
    """(HTTP base URL, gRPC target, server): the session's server with both protocols (tests/conftest.py)."""
    return protocol_server.url, protocol_server.grpc_target, protocol_server.server


@pytest.fixture
def client(served):
    with grpcclient.InferenceServerClient(served[1]) as grpc_client:
        yield grpc_client


def _pixels(mnist_sample, name: str, count: int) -> np.ndarray:
    images, _ = mnist_sample
    pixels = (images[:count] / 255.0).astype(np.float32)
    return pixels.reshape(count, 784) if name == "mlp" else pixels.reshape(count, 28, 28, 1)


def _input(name: str, array: np.ndarray, datatype: str = "FP32") -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)  # tritonclient.grpc sends raw_input_contents
    return tensor


def test_the_proto_is_wire_compatible_with_tritons(tmp_path):
    """Every message and field the service defines has the name, number and type tritonclient's proto has."""
    out = tmp_path / "set.pb"
    # In a process of its own: grpc_tools' compiler crashes inside a process that has loaded the whole suite.
    compiled = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--descriptor_set_out={out}",
            "service/transport/grpc/protos/grpc_predict_v2.proto",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert compiled.returncode == 0, compiled.stderr
    ours = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    assert ours.package == triton_pb2.DESCRIPTOR.package == "inference"
    # Triton's service messages, and its model configuration messages (a file of their own there)
    theirs = {**triton_config_pb2.DESCRIPTOR.message_types_by_name, **triton_pb2.DESCRIPTOR.message_types_by_name}
    their_enums = triton_config_pb2.DESCRIPTOR.enum_types_by_name
    for enum in ours.enum_type:
        assert {v.name: v.number for v in enum.value}.items() <= {
            v.name: v.number for v in their_enums[enum.name].values
        }.items(), enum.name

    def compare(message: descriptor_pb2.DescriptorProto, their) -> None:
        for field in message.field:
            match = their.fields_by_name[field.name]
            assert (match.number, match.type) == (field.number, field.type), f"{message.name}.{field.name}"
        for nested in message.nested_type:
            if not nested.options.map_entry:
                compare(nested, their.nested_types_by_name[nested.name])
        for enum in message.enum_type:
            values = {v.name: v.number for v in their.enum_types_by_name[enum.name].values}
            assert all(values[v.name] == v.number for v in enum.value), f"{message.name}.{enum.name}"

    for message in ours.message_type:
        compare(message, theirs[message.name])
    triton_methods = {m.name: m for m in triton_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods}
    for method in ours.service[0].method:
        assert method.input_type.endswith(triton_methods[method.name].input_type.name)


def test_model_config_and_statistics_equal_the_http_answers(client, served):
    """Triton's extensions, which perf_analyzer calls first: the same configuration and counters as over HTTP."""
    url = served[0]
    over_http = requests.get(f"{url}/v2/models/mlp/config", timeout=10).json()
    assert _ints(client.get_model_config("mlp", as_json=True)["config"]) == over_http
    pixels = _pixels_for_mlp(8)
    before = client.get_inference_statistics("mlp", str(NEWEST["mlp"]), as_json=True)["model_stats"][0]
    for _ in range(3):
        client.infer("mlp", [_input("pixels", pixels)])
    requests.post(f"{url}/predict", json={"model": "mlp", "inputs": pixels.tolist()}, timeout=10).raise_for_status()
    after = client.get_inference_statistics("mlp", str(NEWEST["mlp"]), as_json=True)["model_stats"][0]
    http_after = requests.get(f"{url}/v2/models/mlp/versions/{NEWEST['mlp']}/stats", timeout=10).json()
    grown = {key: int(after[key]) - int(before.get(key, 0)) for key in ("inference_count", "execution_count")}
    assert grown == {"inference_count": 4 * 8, "execution_count": 4}  # both transports count in one place
    success = after["inference_stats"]["success"]
    assert int(success["count"]) - int(before["inference_stats"].get("success", {}).get("count", 0)) == 4
    assert http_after["model_stats"][0]["inference_count"] >= int(after["inference_count"])
    assert int(after["inference_stats"]["compute_infer"]["ns"]) > 0
    assert "statistics" in client.get_server_metadata(as_json=True)["extensions"]
    with pytest.raises(InferenceServerException, match="unknown model 'resnet'"):
        client.get_inference_statistics("resnet")


def _ints(value):
    """protobuf's JSON writes 64-bit integers as strings: back to numbers, to compare with the HTTP JSON."""
    if isinstance(value, dict):
        return {key: _ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints(item) for item in value]
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _pixels_for_mlp(count: int) -> np.ndarray:
    return np.full((count, 784), 0.5, dtype=np.float32)


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("cnn") and client.is_model_ready("mlp", "1")
    assert not client.is_model_ready("resnet")
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "digit-serve" and "model_repository" in metadata["extensions"]
    model = client.get_model_metadata("mlp", as_json=True)
    assert model["inputs"] == [{"name": "pixels", "datatype": "FP32", "shape": ["-1", "784"]}]
    assert model["platform"] == "onnxruntime_onnx"


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_infer_equals_the_http_answer(client, served, mnist_sample, name):
    pixels = _pixels(mnist_sample, name, 16)
    result = client.infer(name, [_input("pixels", pixels)])
    over_grpc = result.as_numpy("probabilities")
    body = {
        "inputs": [{"name": "pixels", "shape": list(pixels.shape), "datatype": "FP32", "data": pixels.ravel().tolist()}]
    }
    over_http = requests.post(f"{served[0]}/v2/models/{name}/infer", json=body, timeout=10).json()
    np.testing.assert_allclose(over_grpc.ravel(), over_http["outputs"][0]["data"], rtol=1e-6)
    assert over_grpc.argmax(axis=1).tolist() == mnist_sample[1][:16].tolist()
    assert result.get_response().model_version == str(NEWEST[name])


def test_linear_with_typed_contents_and_with_raw_bytes(served, client):
    """tritonclient sends raw_input_contents; a hand-built request with typed fp32_contents works too."""
    x = np.array([[1.0], [2.0]], dtype=np.float32)
    raw = client.infer("linear", [_input("x", x)]).as_numpy("y")
    stub = triton_pb2  # tritonclient's own message classes: the same wire format as the service's
    request = stub.ModelInferRequest(model_name="linear")
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[2, 1])
    tensor.contents.fp32_contents.extend([1.0, 2.0])
    channel = grpc.insecure_channel(served[1])
    call = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=stub.ModelInferRequest.SerializeToString,
        response_deserializer=stub.ModelInferResponse.FromString,
    )
    response = call(request, timeout=10)
    typed = np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(2, 1)
    np.testing.assert_array_equal(raw, typed)
    channel.close()


@pytest.mark.parametrize(
    ("tensor", "code", "message"),
    [
        (
            ("pixels", np.zeros((1, 783), np.float32), "FP32"),
            "StatusCode.INVALID_ARGUMENT",
            "unexpected shape [1, 783]",
        ),
        (
            ("pixels", np.zeros((1, 784), np.float64), "FP64"),
            "StatusCode.INVALID_ARGUMENT",
            "datatype FP64 does not match the model's FP32",
        ),
        (("image", np.zeros((1, 784), np.float32), "FP32"), "StatusCode.INVALID_ARGUMENT", "unexpected input 'image'"),
        (("pixels", np.full((1, 784), np.nan, np.float32), "FP32"), "StatusCode.INVALID_ARGUMENT", "must be finite"),
    ],
)
def test_bad_tensors_get_the_http_messages_as_invalid_argument(client, served, tensor, code, message):
    name, array, datatype = tensor
    with pytest.raises(InferenceServerException) as raised:
        client.infer("mlp", [_input(name, array, datatype)])
    assert raised.value.status() == code
    assert message in raised.value.message()


def _raw_infer(target: str, request):
    """ModelInfer with a hand-built request in tritonclient's message classes (the same wire format)."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=triton_pb2.ModelInferRequest.SerializeToString,
            response_deserializer=triton_pb2.ModelInferResponse.FromString,
        )
        return call(request, timeout=10)


def test_typed_contents_beside_raw_contents_are_invalid_argument_not_ignored(served):
    """The proto: when raw_input_contents is used, contents must not be given. The typed values were dropped."""
    request = triton_pb2.ModelInferRequest(model_name="linear")
    tensor = request.inputs.add(name="x", datatype="FP32", shape=[1, 1])
    tensor.contents.fp32_contents.append(5.0)
    request.raw_input_contents.append(np.array([[1.0]], dtype="<f4").tobytes())
    with pytest.raises(grpc.RpcError) as raised:
        _raw_infer(served[1], request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "input 'x': give its values in contents or in raw_input_contents, not both" in raised.value.details()


@pytest.mark.parametrize("contents", ["typed", "raw"])
def test_a_shape_whose_count_overflows_64_bits_is_invalid_argument(served, contents):
    """[2**60, 784] with no data: the count wrapped to 0 in 64 bits and the reshape failed as INTERNAL."""
    request = triton_pb2.ModelInferRequest(model_name="mlp")
    request.inputs.add(name="pixels", datatype="FP32", shape=[1 << 60, 784])
    if contents == "raw":
        request.raw_input_contents.append(b"")
    with pytest.raises(grpc.RpcError) as raised:
        _raw_infer(served[1], request)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    count = (1 << 60) * 784
    expected = f"needs {count} values, got 0" if contents == "typed" else f"needs {count * 4} bytes, got 0"
    assert expected in raised.value.details()


def test_unknown_models_too_large_batches_and_messages(client):
    with pytest.raises(InferenceServerException) as raised:
        client.infer("resnet", [_input("pixels", np.zeros((1, 784), np.float32))])
    assert raised.value.status() == "StatusCode.NOT_FOUND" and "unknown model 'resnet'" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:  # 10.7 MB over MAX_BODY_BYTES of 10 MiB
        client.infer("mlp", [_input("pixels", np.zeros((3400, 784), np.float32))])
    assert raised.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    with pytest.raises(InferenceServerException) as raised:  # within it, beyond MAX_INSTANCES
        client.infer("mlp", [_input("pixels", np.zeros((PROTOCOL_MAX_INSTANCES + 1, 784), np.float32))])
    assert raised.value.status() == "StatusCode.RESOURCE_EXHAUSTED" and "the limit is 512" in raised.value.message()


@pytest.fixture
def mlp_versions_restored(served):
    """After the test, every committed version of mlp loaded again, as the other users of the server expect."""
    yield
    for version in committed_versions("mlp"):
        requests.post(
            f"{served[0]}/v2/repository/models/mlp/load",
            json={"parameters": {"version": version}},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ).raise_for_status()


@pytest.mark.usefixtures("mlp_versions_restored")
def test_load_and_unload_need_the_token_and_reach_both_protocols(client, served):
    url = served[0]
    with pytest.raises(InferenceServerException) as raised:
        client.unload_model("mlp")
    assert raised.value.status() == "StatusCode.UNAUTHENTICATED"
    client.unload_model("mlp", headers=ADMIN)
    assert requests.get(f"{url}/v2/models/mlp/ready", timeout=5).status_code == 404  # HTTP workers follow
    assert not client.is_model_ready("mlp")
    index = client.get_model_repository_index(headers=ADMIN, as_json=True)["models"]
    assert {"name": "mlp", "version": "1", "state": "UNAVAILABLE", "reason": "not loaded"} in index
    loaded = requests.post(
        f"{url}/v2/repository/models/mlp/load", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert loaded.status_code == 200
    assert client.is_model_ready("mlp")  # and the gRPC server follows HTTP
    client.load_model("mlp", headers=ADMIN, config=None)
    assert client.is_model_ready("mlp")


def test_many_concurrent_calls_all_succeed(served, mnist_sample):
    pixels = _pixels(mnist_sample, "cnn", 4)
    failures: list[str] = []

    def caller() -> None:
        with grpcclient.InferenceServerClient(served[1]) as own:
            for _ in range(40):
                try:
                    own.infer("cnn", [_input("pixels", pixels)]).as_numpy("probabilities")
                except InferenceServerException as exc:
                    failures.append(exc.message())

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_reflection_health_checking_logs_and_metrics(served):
    url, target, server = served
    channel = grpc.insecure_channel(target)
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    services = {service.name for answer in answers for service in answer.list_services_response.service}
    assert {"inference.GRPCInferenceService", "grpc.health.v1.Health"} <= services
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "inference.GRPCInferenceService"):
        assert (
            health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
            == health_pb2.HealthCheckResponse.SERVING
        )
    channel.close()
    metrics = requests.get(f"{url}/metrics", timeout=5).text
    assert 'endpoint="/inference.GRPCInferenceService/ModelInfer"' in metrics  # one /metrics for both protocols
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert any(line["method"] == "GRPC" and line["model"] == "cnn" for line in lines)


def test_sigterm_stops_the_grpc_server_with_the_http_one(models_dir, tmp_path):
    port = unused_port()
    with running_server(tmp_path, MODEL_DIR=str(models_dir), GRPC_PORT=str(port), WORKERS="1") as server:
        with grpcclient.InferenceServerClient(f"127.0.0.1:{port}") as grpc_client:
            wait_grpc_ready(grpc_client)
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid), "-f", "service.transport.grpc"], capture_output=True, text=True
        ).stdout.split()
        assert len(children) == 1
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
    assert not Path(f"/proc/{children[0]}").exists() or "zombie" in Path(f"/proc/{children[0]}/status").read_text()
    assert "gRPC server stopping" in server.log()


def _grpc_children(server) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-P", str(server.process.pid), "-f", "service.transport.grpc"], capture_output=True, text=True
    )
    return found.stdout.split()


def test_grpc_workers_share_the_port_a_dead_one_is_replaced_and_a_stop_is_not_an_error(models_dir, tmp_path):
    port = unused_port()
    with running_server(
        tmp_path, MODEL_DIR=str(models_dir), GRPC_PORT=str(port), WORKERS="1", GRPC_WORKERS="2"
    ) as server:
        target = f"127.0.0.1:{port}"
        with grpcclient.InferenceServerClient(target) as grpc_client:
            wait_grpc_ready(grpc_client)
        wait_until(
            lambda: len(_grpc_children(server)) >= 2 and "gRPC server 1 started" in server.log(),
            30,
            lambda: f"two gRPC servers: {server.log()[-3000:]}",
        )
        children = _grpc_children(server)
        pixels = _pixels_for_mlp(1)
        answered_by: set[int] = set()
        for _ in range(40):  # a connection each: the kernel hands new connections to either process
            if len(answered_by) == 2:
                break
            with grpcclient.InferenceServerClient(target) as grpc_client:
                grpc_client.infer("mlp", [_input("pixels", pixels)])
            time.sleep(0.05)
            lines = [json.loads(line) for line in server.log().splitlines() if line.startswith('{"ts"')]
            answered_by = {line["worker"] for line in lines if line["method"] == "GRPC" and line["model"] == "mlp"}
        assert answered_by == {int(pid) for pid in children}
        os.kill(int(children[0]), signal.SIGKILL)  # a crash: the master starts another in its slot
        wait_until(
            lambda: len(set(_grpc_children(server)) - {children[0]}) >= 2,
            30,
            lambda: f"a gRPC server in place of the killed one: {server.log()[-3000:]}",
        )
        assert f"(pid {children[0]}) ended while the service runs; starting another" in server.log()
        with grpcclient.InferenceServerClient(target) as grpc_client:
            wait_grpc_ready(grpc_client)
            assert grpc_client.infer("mlp", [_input("pixels", pixels)]).as_numpy("probabilities").shape == (1, 10)
    # running_server stops the whole process group with SIGTERM, as a container runtime does
    assert server.log().count("starting another") == 1, server.log()[-3000:]
