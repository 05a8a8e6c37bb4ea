"""Typed errors, each carrying its HTTP status and its gRPC status code, and the JSON error body.

Raise one where the problem is found; each transport renders the whole family in one place
(service/transport/http/errors.py, service/transport/grpc/servicer.py). Two body formats exist: this
service's own `{"error": {"code", "message"}}` and the open inference protocol's `{"error": "message"}`
for paths under /v2. Nothing else builds an error body: the worker's answers written before the app
runs (408, 503) take theirs from `error_body` too. No Flask, no grpc in here.
"""

from __future__ import annotations

from typing import Any

import orjson


class ServiceError(Exception):
    status = 500
    code = "internal_error"
    grpc_status = "INTERNAL"  # a name of grpc.StatusCode

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status, code, grpc_status = 400, "bad_request", "INVALID_ARGUMENT"


class Unauthorized(ServiceError):
    status, code, grpc_status = 401, "unauthorized", "UNAUTHENTICATED"


class Forbidden(ServiceError):
    status, code, grpc_status = 403, "forbidden", "PERMISSION_DENIED"


class ModelNotFound(ServiceError):
    status, code, grpc_status = 404, "model_not_found", "NOT_FOUND"


class NotFound(ServiceError):
    """Something a request names (a stored correction) that is not there."""

    status, code, grpc_status = 404, "not_found", "NOT_FOUND"


class PayloadTooLarge(ServiceError):
    status, code, grpc_status = 413, "payload_too_large", "RESOURCE_EXHAUSTED"


class UnsupportedMedia(ServiceError):
    status, code, grpc_status = 415, "unsupported_media_type", "INVALID_ARGUMENT"


class InvalidInput(ServiceError):
    status, code, grpc_status = 422, "invalid_input", "INVALID_ARGUMENT"


class ServiceUnavailable(ServiceError):
    """Overloaded or not ready: the client should retry after RETRY_AFTER_S."""

    status, code, grpc_status = 503, "unavailable", "UNAVAILABLE"


RETRY_AFTER_S = 1


class InsufficientStorage(ServiceError):
    """A store (the corrections' database) is full: no more is kept until items are deleted or limits raised."""

    status, code, grpc_status = 507, "insufficient_storage", "RESOURCE_EXHAUSTED"


class ModelLoadError(ServiceError):
    """A model version could not be loaded; what serves stays as it was."""

    status, code, grpc_status = 400, "model_load_failed", "INVALID_ARGUMENT"


def error_classes() -> list[type[ServiceError]]:
    """Every typed error, the base class first: the API document lists their codes."""
    found, pending = [], [ServiceError]
    while pending:
        kind = pending.pop(0)
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def error_body(code: str, message: str, protocol: bool = False) -> bytes:
    """The JSON error body: the service's own, or the open inference protocol's (`protocol`)."""
    body: dict[str, Any] = {"error": message} if protocol else {"error": {"code": code, "message": message}}
    return orjson.dumps(body)
