"""Request ids, one JSON access-log line and the request metrics for every HTTP response.

A view records what its request ran (`note`, from the `Served` the runtime returned); the hooks here write
it into the line when the response leaves.
"""

from __future__ import annotations

import re
import time

from flask import Flask, Response, g, request

from service import observability
from service.core.served import Served

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def note(served: Served) -> None:
    """What this request ran: its access-log line names the model, version and instances, and what /read adds."""
    g.model, g.version, g.instances = served.model, served.version, served.instances
    g.extra = served.extra


def install_request_hooks(app: Flask) -> None:
    """Request id in and out, one JSON access-log line and the request metrics for every response."""
    access_log = observability.access_log

    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if REQUEST_ID.match(supplied) else observability.new_request_id()

    @app.after_request
    def finish_request(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        model, version = g.get("model", ""), g.get("version", "")
        method = request.method if request.method in HTTP_METHODS else "other"  # label values stay bounded
        observability.record_request(endpoint, method, response.status_code, model, str(version), elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if access_log.enabled:
            access_log.write(
                {
                    "ts": observability.utc_timestamp(time.time()),
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": request.path,
                    "model": model or None,
                    "version": version or None,
                    "status": response.status_code,
                    "latency_ms": round(elapsed * 1000, 3),
                    "instances": g.get("instances"),
                    "remote": request.remote_addr,
                    "worker": access_log.worker,
                    **g.get("extra", {}),
                }
            )
        return response
