"""The open inference protocol (KServe V2 / Triton HTTP) as pure functions: bytes in, tensors out, and back.

Covers JSON tensors and the binary tensor data extension: a JSON header of
`Inference-Header-Content-Length` bytes followed by the raw tensors named by `binary_data_size`,
and a header length of 0 for a raw body holding the single input. No Flask in here.
"""

from __future__ import annotations

import math
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from service.errors import BadRequest
from service.model import ModelVersion, TensorSpec

# The protocol's datatypes as Triton's model configuration names them.
TRITON_TYPES = {
    "BOOL": "TYPE_BOOL",
    "UINT8": "TYPE_UINT8",
    "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64",
    "FP16": "TYPE_FP16",
    "FP32": "TYPE_FP32",
    "FP64": "TYPE_FP64",
    "BYTES": "TYPE_STRING",
}
BATCH_HINT = "the first dimension is the batch: one instance of shape {instance} is sent as shape {example}"


@dataclass
class InferRequest:
    """A parsed infer request: named input arrays, requested outputs and whether each is binary."""

    inputs: dict[str, np.ndarray]
    outputs: list[str]
    binary_outputs: dict[str, bool]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check_shape(spec: TensorSpec, shape: list[int]) -> None:
    """The declared shape must match the model's, with any batch size; say what was expected and why."""
    expected = list(spec.shape)
    if any(size < 0 for size in shape):
        raise BadRequest(
            f"input '{spec.name}': shape {_shape_text(shape)} has a negative size; a request states "
            f"the actual sizes (-1 appears only in metadata, for 'any size')"
        )
    if len(shape) == len(expected) and all(e in (-1, s) for e, s in zip(expected, shape, strict=True)):
        return
    instance = expected[1:]
    message = (
        f"input '{spec.name}': unexpected shape {_shape_text(shape)}, expected {_shape_text(expected)} "
        f"(-1 is any size); " + BATCH_HINT.format(instance=_shape_text(instance), example=_shape_text([1, *instance]))
    )
    raise BadRequest(message)


def _object(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be an object, got {value!r:.60}")
    return value


def array_from_values(spec: TensorSpec, tensor: dict, shape: list[int]) -> np.ndarray:
    data = tensor.get("data")
    if data is None:
        raise BadRequest(f"input '{spec.name}' has neither 'data' nor binary_data_size")
    try:
        found = np.array(data)
    except (ValueError, TypeError):
        raise BadRequest(f"input '{spec.name}': data must be a flat or regular nested list of numbers") from None
    wanted = np.dtype(spec.dtype).kind
    if found.size and not (found.dtype.kind == wanted or (found.dtype.kind in "iu" and wanted in "iuf")):
        raise BadRequest(
            f"input '{spec.name}': data must be {tensor.get('datatype')} numbers, found {found.dtype.kind!r} values"
        )
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array: np.ndarray = found.astype(spec.dtype)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest(f"input '{spec.name}': data must be {tensor.get('datatype')} numbers") from None
    expected = math.prod(shape)  # Python's integers: a count beyond 64 bits is a wrong count, not a wrap to 0
    if array.size != expected:
        raise BadRequest(f"input '{spec.name}': shape {_shape_text(shape)} needs {expected} values, got {array.size}")
    return _finite(spec, array.reshape(shape))


def array_from_bytes(spec: TensorSpec, raw: bytes, shape: list[int]) -> np.ndarray:
    itemsize = np.dtype(spec.dtype).itemsize
    expected = math.prod(shape) * itemsize
    if len(raw) != expected:
        raise BadRequest(
            f"input '{spec.name}': shape {_shape_text(shape)} of {spec.datatype} needs {expected} bytes, got {len(raw)}"
        )
    array = np.frombuffer(raw, dtype=np.dtype(spec.dtype).newbyteorder("<")).reshape(shape)
    return _finite(spec, array.astype(spec.dtype, copy=False))


def _finite(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    """The array unchanged; NaN or Infinity in a float tensor is refused, whichever way it arrived."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise BadRequest(f"input '{spec.name}': data must be finite numbers")
    return array


def _header_length(value: str | None, body_length: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        length = int(value)
    except ValueError:
        raise BadRequest(f"Inference-Header-Content-Length must be an integer, got {value!r}") from None
    if not 0 <= length <= body_length:
        raise BadRequest(f"Inference-Header-Content-Length {length} is outside the body's {body_length} bytes")
    return length


def input_spec(model: ModelVersion, name: object, datatype: object, given: Container[str]) -> TensorSpec:
    """The spec of the request's input `name`, once it is known to the model, not yet `given` and of its datatype.

    The checks every protocol (HTTP JSON or binary, gRPC) makes on each input tensor, with the same messages.
    """
    spec = next((s for s in model.inputs if s.name == name), None) if isinstance(name, str) else None
    if spec is None:
        inputs = ", ".join(s.name for s in model.inputs)
        raise BadRequest(f"unexpected input '{name}' for model '{model.name}'; inputs: {inputs}")
    if spec.name in given:
        raise BadRequest(f"input '{spec.name}' is given twice")
    if datatype != spec.datatype:
        raise BadRequest(f"input '{spec.name}': datatype {datatype} does not match the model's {spec.datatype}")
    return spec


def check_complete(model: ModelVersion, arrays: Container[str]) -> None:
    """Every input of `model` is among the request's `arrays`."""
    missing = [spec.name for spec in model.inputs if spec.name not in arrays]
    if missing:
        raise BadRequest(f"missing input(s) {', '.join(missing)} for model '{model.name}'")


def parse_infer_request(body: bytes, header_length: str | None, model: ModelVersion) -> InferRequest:
    """Body and Inference-Header-Content-Length -> checked input arrays for `model`."""
    length = _header_length(header_length, len(body))
    specs = {spec.name: spec for spec in model.inputs}
    if length == 0:  # the whole body is the raw data of the model's single input
        if len(specs) != 1:
            raise BadRequest("a raw body (Inference-Header-Content-Length: 0) needs a model with one input")
        only = model.input
        itemsize = np.dtype(only.dtype).itemsize
        per_instance = int(np.prod([d for d in only.shape[1:]])) * itemsize
        if per_instance <= 0 or len(body) == 0 or len(body) % per_instance:
            raise BadRequest(
                f"raw body of {len(body)} bytes is not a whole number of {only.datatype} "
                f"instances of shape {_shape_text(only.shape[1:])} ({per_instance} bytes each)"
            )
        raw_shape = [len(body) // per_instance, *only.shape[1:]]
        return InferRequest(
            {only.name: array_from_bytes(only, body, raw_shape)},
            [o.name for o in model.outputs],
            {o.name: True for o in model.outputs},
        )
    header_bytes = body if length is None else body[:length]
    binary = b"" if length is None else body[length:]
    try:
        header = orjson.loads(header_bytes)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON in the inference request: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list) or not header["inputs"]:
        raise BadRequest("the inference request needs 'inputs': a non-empty list of tensors")
    parameters = _object(header.get("parameters"), "'parameters'")
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for tensor in header["inputs"]:
        if not isinstance(tensor, dict):
            raise BadRequest("each input must be an object with name, shape, datatype and data")
        spec = input_spec(model, tensor.get("name"), tensor.get("datatype"), arrays)
        name = spec.name
        declared = tensor.get("shape")
        if not isinstance(declared, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in declared):
            raise BadRequest(f"input '{name}': shape must be a list of integers, got {declared!r}")
        shape: list[int] = declared
        check_shape(spec, shape)
        size = _object(tensor.get("parameters"), f"input '{name}' parameters").get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise BadRequest(
                    f"input '{name}': binary_data_size {size} is beyond the "
                    f"{len(binary) - offset} binary bytes left in the body"
                )
            arrays[name] = array_from_bytes(spec, binary[offset : offset + size], shape)
            offset += size
        else:
            arrays[name] = array_from_values(spec, tensor, shape)
    check_complete(model, arrays)
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes of binary data are not claimed by any input")
    default_binary = _flag(parameters.get("binary_data_output", False), "parameter 'binary_data_output'")
    requested = header.get("outputs")
    if requested:
        if not isinstance(requested, list):
            raise BadRequest(f"'outputs' must be a list of objects with a name, got {requested!r:.60}")
        items = requested
        outputs = select_outputs(model, [item.get("name") if isinstance(item, dict) else None for item in items])
        binary_outputs = {}
        for wanted, item in zip(outputs, items, strict=True):
            item_parameters = _object(item.get("parameters"), f"output '{wanted}' parameters")
            binary_outputs[wanted] = _flag(
                item_parameters.get("binary_data", default_binary), f"output '{wanted}' parameter 'binary_data'"
            )
    else:
        outputs = [o.name for o in model.outputs]
        binary_outputs = dict.fromkeys(outputs, default_binary)
    request_id = header.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(f"'id' must be a string, got {request_id!r:.60}")
    return InferRequest(arrays, outputs, binary_outputs, request_id, parameters)


def select_outputs(model: ModelVersion, requested: Sequence[object]) -> list[str]:
    """The outputs a request names, checked as every transport checks them: each known to the model and asked
    for once. None named: all of the model's outputs."""
    known = [spec.name for spec in model.outputs]
    if not requested:
        return known
    chosen: list[str] = []
    for wanted in requested:
        if not isinstance(wanted, str) or wanted not in known:
            raise BadRequest(f"unexpected output {wanted!r:.60} for model '{model.name}'; outputs: {', '.join(known)}")
        if wanted in chosen:
            raise BadRequest(f"output '{wanted}' is asked for twice")
        chosen.append(wanted)
    return chosen


def _flag(value: Any, what: str) -> bool:
    """A boolean parameter: the string "false" is not false, and is refused rather than read as true."""
    if not isinstance(value, bool):
        raise BadRequest(f"{what} must be true or false, got {value!r:.60}")
    return value


@dataclass(frozen=True)
class OutputTensor:
    """One output as both transports send it: its datatype, shape, and its values little-endian and contiguous."""

    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray


def encode_infer_response(
    model: ModelVersion, request: InferRequest, tensors: list[OutputTensor]
) -> tuple[bytes, int | None]:
    """The HTTP response body and, when any output is binary, the length of its JSON header."""
    outputs, blobs = [], []
    for tensor in tensors:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        if request.binary_outputs.get(tensor.name):
            blob = tensor.values.tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = tensor.values.ravel().tolist()
        outputs.append(entry)
    response: dict[str, Any] = {"model_name": model.name, "model_version": str(model.version), "outputs": outputs}
    if request.id is not None:
        response["id"] = request.id
    header = orjson.dumps(response)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def model_metadata(model: ModelVersion, versions: list[int]) -> dict:
    """The protocol's model metadata: name, versions, platform, inputs and outputs (-1 for the batch)."""
    return {
        "name": model.name,
        "versions": [str(v) for v in versions],
        "platform": "onnxruntime_onnx",
        "inputs": [spec.describe() for spec in model.inputs],
        "outputs": [spec.describe() for spec in model.outputs],
    }


# What the server supports beyond the core protocol, in Triton's names: ServerMetadata over both transports.
EXTENSIONS = ["binary_tensor_data", "model_repository", "model_configuration", "statistics"]


def model_config(model: ModelVersion, max_batch: int) -> dict:
    """The model's configuration as Triton answers GET /v2/models/{m}/config (batch dimension implicit)."""

    def tensors(specs: list[TensorSpec]) -> list[dict]:
        return [{"name": s.name, "data_type": TRITON_TYPES[s.datatype], "dims": list(s.shape[1:])} for s in specs]

    return {
        "name": model.name,
        "platform": "onnxruntime_onnx",
        "backend": "onnxruntime",
        "version_policy": {"latest": {"num_versions": 1}},
        "max_batch_size": max_batch,
        "input": tensors(model.inputs),
        "output": tensors(model.outputs),
        "instance_group": [{"kind": "KIND_GPU" if model.provider.startswith("CUDA") else "KIND_CPU", "count": 1}],
        "parameters": {"provider": {"string_value": model.provider}},
    }


def repository_index(on_disk: dict[str, list[int]], loaded: dict[str, list[int]]) -> list[dict]:
    """Every version on disk with its state, as Triton's repository index lists them."""
    entries = []
    for name, numbers in on_disk.items():
        for number in numbers:
            ready = number in loaded.get(name, [])
            entries.append(
                {
                    "name": name,
                    "version": str(number),
                    "state": "READY" if ready else "UNAVAILABLE",
                    "reason": "" if ready else "not loaded",
                }
            )
    return entries
