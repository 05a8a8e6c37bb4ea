"""Typed errors, each carrying its HTTP status, and the one place that turns errors into responses.

Two body formats exist: this service's own `{"error": {"code", "message"}}` and the open inference
protocol's `{"error": "message"}` for paths under /v2. Nothing else in the service builds an error body:
the worker's answers written before the app runs (408, 503) take theirs from `error_body`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

log = logging.getLogger("service.errors")


class ServiceError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ServiceError):
    status, code = 400, "bad_request"


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class ModelNotFound(ServiceError):
    status, code = 404, "model_not_found"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(ServiceError):
    status, code = 415, "unsupported_media_type"


class InvalidInput(ServiceError):
    status, code = 422, "invalid_input"


class ServiceUnavailable(ServiceError):
    """Overloaded or not ready: the client should retry after RETRY_AFTER_S."""

    status, code = 503, "unavailable"


RETRY_AFTER_S = 1


class ModelLoadError(ServiceError):
    """A model version could not be loaded; what serves stays as it was."""

    status, code = 400, "model_load_failed"


def _is_protocol_path() -> bool:
    return request.path.startswith("/v2")


def error_body(code: str, message: str, protocol: bool = False) -> bytes:
    """The JSON error body: the service's own, or the open inference protocol's (`protocol`)."""
    body: dict[str, Any] = {"error": message} if protocol else {"error": {"code": code, "message": message}}
    return orjson.dumps(body)


def error_response(status: int, code: str, message: str) -> Response:
    protocol = _is_protocol_path()
    if protocol:  # the protocol answers a request it cannot run with 400 and {"error": "..."}
        status = 400 if status == 422 else status
    return Response(error_body(code, message, protocol), status=status, mimetype="application/json")


def register_error_handlers(app: Flask) -> None:
    """Map every exception to a JSON response: typed errors, HTTP errors, and anything unexpected."""

    @app.errorhandler(ServiceError)
    def handle_service_error(exc: ServiceError) -> Response:
        response = error_response(exc.status, exc.code, exc.message)
        if exc.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 413:
            code, message = (
                PayloadTooLarge.code,
                (
                    f"request too large: the limits are {app.config['MAX_CONTENT_LENGTH']} bytes of body and "
                    f"{app.config['MAX_FORM_PARTS']} multipart parts"
                ),
            )
        response = error_response(exc.code or 500, code, message)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error; see the server log")
