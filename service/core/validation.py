"""Request payloads -> numpy batches the models accept, or a typed error saying what is wrong. Pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import orjson

from service.errors import BadRequest, InvalidInput


def parse_json(body: bytes) -> Any:
    """Strict JSON: malformed is a 400; NaN and Infinity (which Python's json accepts) are a 422."""
    if not body:
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            json.loads(body, parse_constant=_refuse_constant)
        except _NonFiniteNumber as nonfinite:
            raise InvalidInput(str(nonfinite)) from None
        except (ValueError, RecursionError):
            raise BadRequest(f"malformed JSON: {exc}") from None
        # Valid JSON to Python, refused by orjson: a number beyond the float or integer range.
        raise InvalidInput(f"numbers must be finite and within the float range: {exc}") from None


class _NonFiniteNumber(ValueError):
    pass


def _refuse_constant(name: str) -> None:
    raise _NonFiniteNumber(f"{name} is not a valid JSON number; inputs must be finite")


def numeric_array(values: Any, what: str = "inputs") -> np.ndarray:
    """A regular, finite, numeric (not boolean, not string) nested list as float64."""
    try:
        array = np.array(values)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{what} must be a regular nested list of numbers; rows of different lengths were found"
        ) from None
    if array.dtype.kind not in "iuf":
        kind = {"b": "booleans", "U": "strings", "O": "mixed or ragged values"}.get(array.dtype.kind, "non-numbers")
        raise InvalidInput(f"{what} must be numbers; found {kind}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise InvalidInput(f"{what} must be finite numbers; found a value out of the float range")
    return array


# A whole number as clients write one: ASCII digits, at most 18 of them, so that it fits SQLite's 64-bit integers.
# (str.isdigit() also takes "²", "٣" and "３", which int() or SQLite then refuse: issue 36.)
WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")
# The largest version number or id this service takes: a signed 32-bit integer.
MAX_NUMBER = 2**31 - 1


def whole_number(value: object, limit: int = MAX_NUMBER) -> int | None:
    """A whole number from 3 or "3" (ASCII digits, surrounding spaces allowed), at most `limit`; None for anything
    else: booleans, 1.5, "latest", "²", a number past the limit, objects."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= limit else None
    if isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
        number = int(value.strip())
        return number if number <= limit else None
    return None


def parse_version(value: object) -> int | None:
    """An integer version from 3 or "3"; None for anything else (booleans, 1.5, "latest", "²", objects)."""
    return whole_number(value)


def _check_not_empty(count: int) -> None:
    if count == 0:
        raise InvalidInput("inputs is empty; send at least one instance")


def image_batch(values: Any, input_shape: tuple[int, ...]) -> np.ndarray:
    """Pixel instances (784 values, 28x28, or the model's own shape, in [0, 1]) -> float32 batch."""
    if not isinstance(values, list):
        raise InvalidInput("inputs must be a list of instances")
    array = numeric_array(values)
    instance = input_shape[1:]
    if array.ndim == 1 and len(instance) and array.size == int(np.prod(instance)):
        raise InvalidInput(
            f"inputs must be a list of instances; got one flat list of {array.size} numbers "
            f"(the whole inputs array has shape {list(array.shape)}): wrap it in a list, "
            "[[...]], to send it as a batch of one"
        )
    _check_not_empty(len(array))
    size = int(np.prod(instance))
    accepted = {(size,), (28, 28), tuple(instance)}
    if array.shape[1:] not in accepted:
        shapes = " or ".join(str(list(s)) for s in sorted(accepted, key=len))
        raise InvalidInput(
            f"each instance must have shape {shapes}; got {list(array.shape[1:])} "
            f"(the whole inputs array has shape {list(array.shape)})"
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        hint = "; divide 0-255 pixel values by 255" if high > 1.0 else ""
        raise InvalidInput(f"pixel intensities must be in [0, 1]; got values from {low:g} to {high:g}{hint}")
    return array.reshape((len(array), *instance)).astype(np.float32)


def number_batch(values: Any) -> np.ndarray:
    """Numbers x (or [x]) for the linear model -> float32 batch of shape (N, 1)."""
    if not isinstance(values, list):
        values = [values]
    _check_not_empty(len(values))
    array = numeric_array([v[0] if isinstance(v, list) and len(v) == 1 else v for v in values])
    if array.ndim != 1:
        raise InvalidInput(f"each instance must be one number x (or [x]); got shape {list(array.shape[1:])}")
    if np.abs(array).max() > np.finfo(np.float32).max:
        raise InvalidInput("inputs must fit in float32")
    return array.reshape(-1, 1).astype(np.float32)
