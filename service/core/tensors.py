"""The open inference protocol's tensor rules, once for every transport, as pure functions.

Each transport turns its wire format into `TensorIn`s (HTTP: JSON tensors and the binary tensor data
extension, service/transport/http/v2_codec.py; gRPC: protobuf contents or raw_input_contents) and
`decode_inputs` checks them against the model with the same rules and messages: names, datatypes,
shapes, value counts, byte counts, finite values, every input given once. Also the model metadata,
configuration and repository index as the protocol answers them, and each output as both send it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from service.core.model import ModelVersion, TensorSpec
from service.errors import BadRequest

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


def shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def check_shape(spec: TensorSpec, shape: list[int]) -> None:
    """The declared shape must match the model's, with any batch size; say what was expected and why."""
    expected = list(spec.shape)
    if any(size < 0 for size in shape):
        raise BadRequest(
            f"input '{spec.name}': shape {shape_text(shape)} has a negative size; a request states "
            f"the actual sizes (-1 appears only in metadata, for 'any size')"
        )
    if len(shape) == len(expected) and all(e in (-1, s) for e, s in zip(expected, shape, strict=True)):
        return
    instance = expected[1:]
    message = (
        f"input '{spec.name}': unexpected shape {shape_text(shape)}, expected {shape_text(expected)} "
        f"(-1 is any size); " + BATCH_HINT.format(instance=shape_text(instance), example=shape_text([1, *instance]))
    )
    raise BadRequest(message)


def array_from_values(spec: TensorSpec, data: Any, datatype: object, shape: list[int]) -> np.ndarray:
    """The tensor's values (a flat or nested list) as an array of the model's type and `shape`."""
    if data is None:
        raise BadRequest(f"input '{spec.name}' has neither 'data' nor binary_data_size")
    try:
        found = np.array(data)
    except (ValueError, TypeError):
        raise BadRequest(f"input '{spec.name}': data must be a flat or regular nested list of numbers") from None
    wanted = np.dtype(spec.dtype).kind
    if found.size and not (found.dtype.kind == wanted or (found.dtype.kind in "iu" and wanted in "iuf")):
        raise BadRequest(f"input '{spec.name}': data must be {datatype} numbers, found {found.dtype.kind!r} values")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            array: np.ndarray = found.astype(spec.dtype)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest(f"input '{spec.name}': data must be {datatype} numbers") from None
    expected = math.prod(shape)  # Python's integers: a count beyond 64 bits is a wrong count, not a wrap to 0
    if array.size != expected:
        raise BadRequest(f"input '{spec.name}': shape {shape_text(shape)} needs {expected} values, got {array.size}")
    return _finite(spec, array.reshape(shape))


def array_from_bytes(spec: TensorSpec, raw: bytes | memoryview, shape: list[int]) -> np.ndarray:
    """Raw little-endian bytes as an array of the model's type and `shape` (a view where the type allows)."""
    itemsize = np.dtype(spec.dtype).itemsize
    expected = math.prod(shape) * itemsize
    if len(raw) != expected:
        raise BadRequest(
            f"input '{spec.name}': shape {shape_text(shape)} of {spec.datatype} needs {expected} bytes, got {len(raw)}"
        )
    array = np.frombuffer(raw, dtype=np.dtype(spec.dtype).newbyteorder("<")).reshape(shape)
    return _finite(spec, array.astype(spec.dtype, copy=False))


def _finite(spec: TensorSpec, array: np.ndarray) -> np.ndarray:
    """The array unchanged; NaN or Infinity in a float tensor is refused, whichever way it arrived."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise BadRequest(f"input '{spec.name}': data must be finite numbers")
    return array


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


Contents = list | bytes | memoryview | None


@dataclass(frozen=True)
class TensorIn:
    """One input tensor as a transport received it, not yet checked.

    `contents`: its values (a list, as JSON or protobuf contents give them), its raw bytes, or a function
    returning either, called once the name, datatype and shape have passed (so that its own checks, such as
    the HTTP binary extension's byte counts, come in the same order for every transport).
    """

    name: object
    datatype: object
    shape: object
    contents: Contents | Callable[[], Contents]


def decode_inputs(model: ModelVersion, tensors: Iterable[TensorIn]) -> dict[str, np.ndarray]:
    """The request's tensors as checked arrays for `model`, by one set of rules for every transport."""
    arrays: dict[str, np.ndarray] = {}
    for tensor in tensors:
        spec = input_spec(model, tensor.name, tensor.datatype, arrays)
        declared = tensor.shape
        if not isinstance(declared, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in declared):
            raise BadRequest(f"input '{spec.name}': shape must be a list of integers, got {declared!r}")
        check_shape(spec, declared)
        contents = tensor.contents() if callable(tensor.contents) else tensor.contents
        if isinstance(contents, bytes | memoryview):
            arrays[spec.name] = array_from_bytes(spec, contents, declared)
        else:
            arrays[spec.name] = array_from_values(spec, contents, tensor.datatype, declared)
    check_complete(model, arrays)
    return arrays


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


@dataclass(frozen=True)
class OutputTensor:
    """One output as both transports send it: its datatype, shape, and its values little-endian and contiguous."""

    name: str
    datatype: str
    shape: list[int]
    values: np.ndarray


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
