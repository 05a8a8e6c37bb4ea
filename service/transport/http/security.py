"""HTTP's side of security: API keys checked before every guarded view, the headers every response carries, CORS.

- API keys (`API_KEYS`, comma-separated; off when empty) guard predictions and model metadata. A key is
  sent as `Authorization: Bearer <key>` or `X-API-Key: <key>` and compared in constant time with every
  configured key (service/auth.py). Health probes, metrics, the API document and the model-control
  endpoints (which have their own ADMIN_TOKEN) stay outside them. A missing or wrong key is a JSON 401.
- Every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`; HTML also gets a
  restrictive Content-Security-Policy (no inline script, nothing from another origin, no framing).
- CORS is off unless `CORS_ORIGINS` names origins (or `*`): then those origins may call the API from a
  browser, preflight included.
"""

from __future__ import annotations

from flask import Flask, Response, request

from service.auth import key_from, key_matches
from service.errors import Unauthorized

# Endpoints open without an API key: probes, operators' endpoints, the page's own files (it sends the key the
# user gives it with every call), and model control (ADMIN_TOKEN).
OPEN_ENDPOINTS = frozenset(
    {
        "health.healthz",
        "health.readyz",
        "v2.live",
        "v2.ready",
        "meta.metrics",
        "meta.openapi",
        "meta.docs",
        "meta.docs_init",
        "meta.docs_asset",
        "v2.repository_index",
        "v2.load",
        "v2.unload",
        "static",
    }
)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CORS_HEADERS = "Authorization, Content-Type, Content-Encoding, Inference-Header-Content-Length, X-API-Key, X-Request-ID"


def supplied_key() -> str:
    """The key this HTTP request carries."""
    return key_from(request.headers.get("Authorization", ""), request.headers.get("X-API-Key", ""))


def install_security(app: Flask, api_keys: list[str], cors_origins: list[str]) -> None:
    @app.before_request
    def require_api_key() -> None:
        if not api_keys or request.method == "OPTIONS" or request.endpoint in OPEN_ENDPOINTS:
            return
        if request.endpoint is None:  # an unknown path: its 404 says nothing about what exists
            return
        if not key_matches(supplied_key(), api_keys):
            raise Unauthorized(
                "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )

    @app.after_request
    def add_headers(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="digit-serve"'
        origin = request.headers.get("Origin")
        if origin and cors_origins and ("*" in cors_origins or origin in cors_origins):
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in cors_origins else origin
            response.vary.add("Origin")
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Inference-Header-Content-Length"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                response.headers["Access-Control-Max-Age"] = "600"
        return response
