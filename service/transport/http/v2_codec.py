"""The open inference protocol over HTTP (KServe V2 / Triton) as pure functions: the body in, the body out.

Covers JSON tensors and the binary tensor data extension: a JSON header of
`Inference-Header-Content-Length` bytes followed by the raw tensors named by `binary_data_size`, and a
header length of 0 for a raw body holding the single input. The tensors themselves are checked by the
rules both transports share (service/core/tensors.py). No Flask in here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from service.core.model import ModelVersion
from service.core.tensors import (
    OutputTensor,
    TensorIn,
    array_from_bytes,
    decode_inputs,
    select_outputs,
    shape_text,
)
from service.errors import BadRequest


@dataclass
class InferRequest:
    """A parsed infer request: named input arrays, requested outputs and whether each is binary."""

    inputs: dict[str, np.ndarray]
    outputs: list[str]
    binary_outputs: dict[str, bool]
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


def _object(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be an object, got {value!r:.60}")
    return value


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


def _raw_body(body: bytes | memoryview, model: ModelVersion) -> InferRequest:
    """Inference-Header-Content-Length: 0: the whole body is the raw data of the model's single input."""
    if len(model.inputs) != 1:
        raise BadRequest("a raw body (Inference-Header-Content-Length: 0) needs a model with one input")
    only = model.input
    itemsize = np.dtype(only.dtype).itemsize
    per_instance = int(np.prod([d for d in only.shape[1:]])) * itemsize
    if per_instance <= 0 or len(body) == 0 or len(body) % per_instance:
        raise BadRequest(
            f"raw body of {len(body)} bytes is not a whole number of {only.datatype} "
            f"instances of shape {shape_text(only.shape[1:])} ({per_instance} bytes each)"
        )
    raw_shape = [len(body) // per_instance, *only.shape[1:]]
    return InferRequest(
        {only.name: array_from_bytes(only, body, raw_shape)},
        [o.name for o in model.outputs],
        {o.name: True for o in model.outputs},
    )


class _BinarySections:
    """The binary part of a body, handed out in order to the inputs that claim it with binary_data_size."""

    def __init__(self, binary: bytes | memoryview) -> None:
        self.binary = binary  # a view of the body: each input's array is a view of its bytes, never a copy
        self.offset = 0

    def tensors(self, inputs: list) -> Iterator[TensorIn]:
        for tensor in inputs:
            if not isinstance(tensor, dict):
                raise BadRequest("each input must be an object with name, shape, datatype and data")
            yield TensorIn(tensor.get("name"), tensor.get("datatype"), tensor.get("shape"), self._contents(tensor))

    def _contents(self, tensor: dict):
        def contents() -> list | bytes | memoryview | None:
            name = tensor.get("name")
            size = _object(tensor.get("parameters"), f"input '{name}' parameters").get("binary_data_size")
            if size is None:
                return tensor.get("data")
            left = len(self.binary) - self.offset
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or size > left:
                raise BadRequest(
                    f"input '{name}': binary_data_size {size} is beyond the {left} binary bytes left in the body"
                )
            self.offset += size
            return self.binary[self.offset - size : self.offset]

        return contents

    def check_all_claimed(self) -> None:
        if self.offset != len(self.binary):
            raise BadRequest(f"{len(self.binary) - self.offset} bytes of binary data are not claimed by any input")


def parse_infer_request(body: bytes | memoryview, header_length: str | None, model: ModelVersion) -> InferRequest:
    """Body and Inference-Header-Content-Length -> checked input arrays for `model`."""
    length = _header_length(header_length, len(body))
    if length == 0:
        return _raw_body(body, model)
    header_bytes = body if length is None else body[:length]
    try:
        header = orjson.loads(header_bytes)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON in the inference request: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list) or not header["inputs"]:
        raise BadRequest("the inference request needs 'inputs': a non-empty list of tensors")
    parameters = _object(header.get("parameters"), "'parameters'")
    sections = _BinarySections(b"" if length is None else memoryview(body)[length:])
    arrays = decode_inputs(model, sections.tensors(header["inputs"]))
    sections.check_all_claimed()
    default_binary = _flag(parameters.get("binary_data_output", False), "parameter 'binary_data_output'")
    requested = header.get("outputs")
    if requested:
        if not isinstance(requested, list):
            raise BadRequest(f"'outputs' must be a list of objects with a name, got {requested!r:.60}")
        outputs = select_outputs(model, [item.get("name") if isinstance(item, dict) else None for item in requested])
        binary_outputs = {}
        for wanted, item in zip(outputs, requested, strict=True):
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


def _flag(value: Any, what: str) -> bool:
    """A boolean parameter: the string "false" is not false, and is refused rather than read as true."""
    if not isinstance(value, bool):
        raise BadRequest(f"{what} must be true or false, got {value!r:.60}")
    return value


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
