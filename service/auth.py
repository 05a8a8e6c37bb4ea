"""Who may call what: API keys and the admin token, as pure checks both transports make.

API keys (`API_KEYS`) guard predictions and model metadata, over HTTP and gRPC alike; `ADMIN_TOKEN` guards
model control and the stored corrections (their stats, deleting them). Each transport finds the key where its
clients put it (a header, gRPC metadata) and asks here.
"""

from __future__ import annotations

import hmac

from service.errors import Forbidden, Unauthorized


def parse_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def key_from(authorization: str, api_key: str) -> str:
    """The key a call carries, from `Authorization: Bearer <key>` or else `X-API-Key`; empty when none."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return api_key.strip()


def require_admin(configured: str, authorization: str, carrier: str, what: str = "model control") -> None:
    """Model control (or `what` else the admin token guards): Forbidden while ADMIN_TOKEN is unset, Unauthorized
    unless `authorization` is its bearer token.

    `carrier` names where the client puts it ("header" for HTTP, "metadata" for gRPC) in the message.
    """
    if not configured:
        raise Forbidden(f"{what} is disabled: set ADMIN_TOKEN on the server to enable it")
    if not hmac.compare_digest(authorization.encode(), f"Bearer {configured}".encode()):
        raise Unauthorized(f"{what} needs the {carrier} 'Authorization: Bearer <ADMIN_TOKEN>'")


def key_matches(supplied: str, keys: list[str]) -> bool:
    """Constant time in the key's content: every configured key is compared, whichever matches."""
    supplied_bytes = supplied.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(supplied_bytes, key.encode())
    return found and bool(supplied)
