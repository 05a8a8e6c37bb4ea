"""The answers a worker writes itself, before or without the app: the service's JSON error body, never HTML.

The worker's own (408 for a client too slow to send its request, 503 past MAX_QUEUE) are built here, and so are
gunicorn's: a request line over 4,094 bytes (414), headers too large or too many (431), a malformed request
(400), which gunicorn writes as an HTML page through `gunicorn.util.write_error`. `use_json_errors` puts this
module's writer in its place, in the master before it forks, for both worker classes.
"""

from __future__ import annotations

import gunicorn.util

from service.errors import error_body


def error_response(status: str, message: str, retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 error response with this service's JSON error body, closing the connection."""
    body = error_body(status.split(" ", 1)[1].lower().replace(" ", "_").replace("-", "_"), message)
    headers = [
        f"HTTP/1.1 {status}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ] + ([f"Retry-After: {retry_after}"] if retry_after is not None else [])
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's signature, with the service's JSON body."""
    gunicorn.util.write_nonblock(sock, error_response(f"{status_int} {reason}", mesg or reason))


def use_json_errors() -> None:
    """Make gunicorn write its own error answers (414, 431, 400...) as this service's JSON."""
    gunicorn.util.write_error = write_json_error
