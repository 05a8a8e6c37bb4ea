"""Every exception as a JSON response, in one place: typed errors, HTTP errors, and anything unexpected."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from service.errors import RETRY_AFTER_S, PayloadTooLarge, ServiceError, error_body
from service.transport.http.openapi import http_error_code

log = logging.getLogger("service.errors")


def _is_protocol_path() -> bool:
    return request.path.startswith("/v2")


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
        code = http_error_code(exc.name or "error")
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
