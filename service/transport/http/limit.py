"""WORKER_CLASS=gthread: the concurrency limit the service's own worker keeps, in the app, for stock gunicorn.

At most THREADS requests run at once and MAX_QUEUE more wait for a turn, each with its whole body read first
(so that a client trickling its body holds a thread, never a turn); a request beyond them is answered at once
with a JSON 503 and Retry-After, as the service's worker sheds and as gRPC does with maximum_concurrent_rpcs.
gunicorn.conf.py gives gthread THREADS + MAX_QUEUE + 1 threads, so that the one left answers the 503s.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable

from service import observability
from service.errors import RETRY_AFTER_S, error_body

StartResponse = Callable[..., object]
WsgiApp = Callable[..., Iterable[bytes]]


class ConcurrencyLimit:
    """WSGI middleware: `running` requests at a time, `waiting` more queued, the rest shed with a 503."""

    def __init__(self, app: WsgiApp, running: int, waiting: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._turns = threading.Semaphore(running)
        self._admitted = threading.BoundedSemaphore(running + waiting)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if not self._admitted.acquire(blocking=False):
            observability.record_shed()
            return self._shed(start_response)
        try:
            self._read_body(environ)
            with self._turns:
                return self.app(environ, start_response)
        finally:
            self._admitted.release()

    def _read_body(self, environ: dict) -> None:
        """The whole body, before a turn is taken; one announced beyond the limit is left to the app's 413."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return
        if 0 < length <= self.max_body_bytes:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))

    @staticmethod
    def _shed(start_response: StartResponse) -> list[bytes]:
        body = error_body("service_unavailable", "the server is at capacity; retry after the time in Retry-After")
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("503 Service Unavailable", [*headers, ("Retry-After", str(RETRY_AFTER_S))])
        return [body]
