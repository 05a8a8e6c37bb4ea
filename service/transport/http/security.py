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

from flask import Request, Response

from service.auth import key_from, key_matches
from service.errors import Unauthorized

# Endpoints open without an API key: probes, operators' endpoints, the page's own files (it sends the key the
# user gives it with every call), and what ADMIN_TOKEN guards instead (model control, the stored corrections).
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
        "feedback.stats",  # the corrections' stats and deleting them need ADMIN_TOKEN (api/feedback.py)
        "feedback.delete",
        "static",
    }
)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CORS_HEADERS = "Authorization, Content-Type, Content-Encoding, Inference-Header-Content-Length, X-API-Key, X-Request-ID"


def supplied_key(req: Request) -> str:
    """The key an HTTP request carries."""
    return key_from(req.headers.get("Authorization", ""), req.headers.get("X-API-Key", ""))


class Security:
    """The API key check before a view, and the headers after it (run by service/transport/http/hooks.py)."""

    def __init__(self, api_keys: list[str], cors_origins: list[str]) -> None:
        self.api_keys = api_keys
        self.cors_origins = cors_origins

    def require_api_key(self, req: Request, state: object) -> None:
        if not self.api_keys or req.method == "OPTIONS" or req.endpoint in OPEN_ENDPOINTS:
            return
        if req.endpoint is None:  # an unknown path: its 404 says nothing about what exists
            return
        if not key_matches(supplied_key(req), self.api_keys):
            raise Unauthorized(
                "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )

    def add_headers(self, req: Request, state: object, response: Response) -> None:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer"
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        if response.status_code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="digit-serve"'
        origin = req.headers.get("Origin")
        cors_origins = self.cors_origins
        if origin and cors_origins and ("*" in cors_origins or origin in cors_origins):
            headers["Access-Control-Allow-Origin"] = "*" if "*" in cors_origins else origin
            response.vary.add("Origin")
            headers["Access-Control-Expose-Headers"] = "X-Request-ID, Inference-Header-Content-Length"
            if req.method == "OPTIONS":
                headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                headers["Access-Control-Max-Age"] = "600"
