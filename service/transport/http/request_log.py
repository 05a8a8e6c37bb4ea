"""Request ids, one JSON access-log line and the request metrics for every HTTP response.

A view records what its request ran (`note`, from the `Served` the runtime returned); the hooks here write
it into the line when the response leaves. They run inside the app's one before and one after hook
(service/transport/http/hooks.py) and read the request and `g` once each, not through Flask's proxies
attribute by attribute (each proxy access looks up the context again).
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Request, Response, g

from service import observability
from service.core.served import Served

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def note(served: Served) -> None:
    """What this request ran: its access-log line names the model, version and instances, and what /read adds."""
    g.served = served


def start_request(req: Request, state: Any) -> None:
    state.started = time.perf_counter()
    supplied = req.headers.get("X-Request-ID", "")
    state.request_id = supplied if REQUEST_ID.match(supplied) else observability.new_request_id()


def finish_request(req: Request, state: Any, response: Response) -> None:
    """The request metrics, the X-Request-ID header and the access-log line, for `response`."""
    now = time.perf_counter()
    elapsed = now - getattr(state, "started", now)
    served: Served | None = getattr(state, "served", None)
    model, version = (served.model, served.version) if served is not None else ("", "")
    rule = req.url_rule
    request_id = getattr(state, "request_id", "")
    response.headers["X-Request-ID"] = request_id
    observability.record_answer(
        rule.rule if rule else "unmatched", req.method, req.path, response.status_code, model, version, elapsed,
        request_id=request_id, instances=served.instances if served is not None else None, remote=req.remote_addr,
        extra=served.extra if served is not None else None,
    )  # fmt: skip
