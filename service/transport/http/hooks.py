"""The app's one before-request and one after-request hook, running each concern's step in order.

Flask looks up and wraps every hook it runs (`ensure_sync`, an inspection of the function) and each hook
reads the request through a context proxy; one hook of each kind, handing the request and `g` themselves to
plain functions, does the same steps for less. Before a view: the request id and clock
(service/transport/http/request_log.py), the API key (security.py), the registry following another worker's
loads and unloads. After it: the security and CORS headers, then the metrics and the access line, which
see the final status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Flask, Request, Response, g, request

Before = Callable[[Request, Any], None]
After = Callable[[Request, Any, Response], None]


def current() -> tuple[Request, Any]:
    """This request and its `g`, as the objects themselves."""
    return request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]


def install_hooks(app: Flask, before: Sequence[Before], after: Sequence[After]) -> None:
    """`before` steps, in order, ahead of every view; `after` steps, in order, on every response."""
    before, after = tuple(before), tuple(after)

    @app.before_request
    def run_before() -> None:
        req, state = current()
        for step in before:
            step(req, state)

    @app.after_request
    def run_after(response: Response) -> Response:
        req, state = current()
        for step in after:
            step(req, state, response)
        return response
