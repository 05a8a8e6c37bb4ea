"""A request's body as the views need it: a view of the bytes the server already holds, or read once."""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge


def body_view(req: Request) -> memoryview | bytes:
    """The whole body without a copy when the server holds it whole (the worker's `HeldBody`), else read once.

    The limit on the body's size holds either way, as werkzeug's `get_data` applies it. Once taken, the body
    has been read: a later `get_data` finds it empty, as after reading `wsgi.input` to its end.
    """
    stream = req.environ.get("wsgi.input")
    take, length = getattr(stream, "take", None), getattr(stream, "length", None)
    if take is None or length is None or req.content_length != length:
        return req.get_data(cache=False)
    if req.max_content_length is not None and length > req.max_content_length:
        raise RequestEntityTooLarge()
    return take()
