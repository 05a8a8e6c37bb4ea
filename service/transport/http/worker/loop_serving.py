"""gthread's event loop reading every request whole, serving small ones itself, and shedding load when full.

- Reads each request whole in its event loop (non-blocking) before a thread is spent on it, so a client trickling
  its headers or body holds a socket and some memory, never a thread; a request not complete within
  `read_timeout` is answered 408 (or closed silently if nothing came at all within the keep-alive timeout).
- Hands a body it holds whole to the app as one buffer (`hold_body`, in handle_request): read from it, or taken as
  a view (service/transport/http/body.py), never copied through gunicorn's and werkzeug's readers.
- Runs a small request (a body of at most `inline_max_bytes`) in the event loop itself once all of its bytes are
  there, instead of handing it to a thread and back: that hand-off (a future, a queue, two thread switches, the
  wake-up pipe) cost a third of a small request's CPU. Its response is written without blocking
  (service/transport/http/worker/sockets.py). Larger requests, and every request while adaptive batching is on
  (which needs concurrent callers), go to the thread pool.
- Sheds load: with `threads + max_queue` requests already running or waiting (in the pool, or served by the loop
  before this one in the same turn), a new one is answered at once with a JSON 503 and Retry-After instead of
  queueing without bound.
"""

from __future__ import annotations

import contextlib
import selectors
import time
from concurrent import futures
from functools import partial

from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from service.transport.http.worker.errors import error_response
from service.transport.http.worker.request_buffer import RequestBuffer
from service.transport.http.worker.sockets import CoalescingResponse, HeldUnreader, LoopSocket, hold_body

RECV_BYTES = 256 * 1024


class LoopServing(ThreadWorker):
    """gthread that reads requests in its event loop, serves the small ones there, and sheds load (see above)."""

    read_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_queue: int = 64
    inline_max_bytes: int = 64 * 1024
    _in_pool: int = 0  # requests handed to the thread pool and not finished: running or waiting
    _turn_served: int = 0  # requests the loop has served itself in this turn of the event loop
    _inline_depth: int = 0  # > 0 while the loop serves a request: a pipelined one behind it waits its turn

    def init_process(self) -> None:
        wsgi.Response = CoalescingResponse  # in this worker process only, after the fork
        self._reading: dict = {}  # connections whose request is still arriving, oldest first
        self._writing: dict = {}  # connections whose inline response is still leaving -> (keep-alive, deadline)
        super().init_process()

    def enqueue_req(self, conn) -> None:
        """gthread calls this for a new connection, a kept-alive one that became readable, or pipelined bytes."""
        if self.cfg.is_ssl or conn.is_http2:
            self._to_pool(conn)
            return
        if not isinstance(conn.sock, LoopSocket):  # a new connection: before gunicorn's parser takes the socket
            conn.sock = LoopSocket(conn.sock)
        conn.request_buffer = RequestBuffer(self.max_body_bytes)
        conn.read_started = time.monotonic()
        if conn.parser is not None:  # bytes of this request read ahead with the previous one
            leftover = conn.parser.unreader.take_buffered()
            if leftover and conn.request_buffer.feed(leftover):
                self._request_complete(conn)
                return
        conn.sock.setblocking(False)
        # A kept-alive client's request is usually there already: read it before involving the poller.
        outcome = self._receive(conn)
        if outcome == "more":
            self._reading[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))
        else:
            self._done_reading(conn, outcome)

    def _receive(self, conn) -> str:
        """Read what has arrived: "more" to wait for, "complete", or "gone" (the client closed).

        Reads until the socket has nothing more (or the request is whole): a large body arrives in many
        segments, and one read per turn of the event loop would cost a poll for each.
        """
        for _ in range(64):  # bounded: 64 x 256 KiB is more than any body the service takes
            try:
                data = conn.sock.recv(RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                return "more"
            except OSError:
                data = b""
            if not data:
                return "gone"
            if conn.request_buffer.feed(data):
                return "complete"
        return "more"

    def _on_request_bytes(self, conn, _sock) -> None:
        if conn not in self._reading:
            return
        outcome = self._receive(conn)
        if outcome != "more":
            self._stop_reading(conn)  # out of the poller before the socket may be closed
            self._done_reading(conn, outcome)

    def _done_reading(self, conn, outcome: str) -> None:
        if outcome == "complete":
            self._request_complete(conn)
        else:
            self._close(conn)

    def _stop_reading(self, conn) -> None:
        self._reading.pop(conn, None)
        self._unwatch(conn)

    def _unwatch(self, conn) -> None:
        """Out of the poller (it may already be, or its socket closed)."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def _close(self, conn, response: bytes = b"") -> None:
        if response:
            with contextlib.suppress(OSError):  # small: fits the buffer of a connection that sent its request
                conn.sock.send(response)
        self.nr_conns -= 1
        conn.close()

    def _request_complete(self, conn) -> None:
        if self._in_pool + self._turn_served >= self.cfg.threads + self.max_queue:
            # Imported here, not at the top: gunicorn loads this class in the master before on_starting sets
            # PROMETHEUS_MULTIPROC_DIR, and prometheus_client reads it on import.
            from service import observability

            observability.record_shed()
            self._close(
                conn,
                error_response(
                    "503 Service Unavailable",
                    f"the server is at capacity ({self._in_pool} requests in this "
                    "worker); retry after the time in Retry-After",
                    retry_after=1,
                ),
            )
            return
        conn.prefetched = conn.request_buffer.data  # the bytearray itself: HeldUnreader takes it as it is
        conn.request_buffer = None
        conn.data_ready = True  # gthread's thread must not wait for data: it is all here
        if len(conn.prefetched) > self.inline_max_bytes:
            self._to_pool(conn)
        elif self._inline_depth:  # pipelined behind the request being served: after it, not inside it
            self.method_queue.defer(self._serve_inline, conn)
        else:
            self._serve_inline(conn)

    def _serve_inline(self, conn) -> None:
        self._turn_served += 1
        conn.sock.inline = True
        self._inline_depth += 1
        try:
            keepalive = self.handle(conn)  # gthread's own handling; it never raises
        finally:
            self._inline_depth -= 1
        if conn.sock.pending:  # the client is not reading fast enough: the rest goes out when it can
            self._writing[conn] = (keepalive, time.monotonic() + self.read_timeout)
            self.poller.register(conn.sock, selectors.EVENT_WRITE, partial(self._on_writable, conn))
        else:
            self._served_inline(conn, keepalive)

    def _on_writable(self, conn, _sock) -> None:
        if conn not in self._writing:
            return
        try:
            done = conn.sock.flush()
        except OSError:  # the client is gone
            self._drop_writing(conn)
            return
        if done:
            keepalive, _ = self._writing.pop(conn)
            self._unwatch(conn)
            self._served_inline(conn, keepalive)

    def _drop_writing(self, conn) -> None:
        self._writing.pop(conn, None)
        self._unwatch(conn)
        conn.sock.leave_loop()
        self._close(conn)

    def _served_inline(self, conn, keepalive) -> None:
        """What gthread does when a thread finishes a request: keep the connection alive, or close it."""
        conn.sock.leave_loop()
        done: futures.Future = futures.Future()
        done.set_result(keepalive)
        self._inline_depth += 1  # bytes read ahead of the next request are served after this one, not inside
        try:
            ThreadWorker.finish_request(self, conn, done)
        finally:
            self._inline_depth -= 1

    def _to_pool(self, conn) -> None:
        self._in_pool += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs) -> None:
        self._in_pool -= 1
        super().finish_request(conn, fs)

    def handle(self, conn):
        data = getattr(conn, "prefetched", None)
        if data is not None:
            conn.prefetched = None
            conn.init()
            if not isinstance(conn.parser.unreader, HeldUnreader):
                conn.parser.unreader = HeldUnreader(conn.sock)
            conn.parser.unreader.unread(data)
        return super().handle(conn)

    def _expire_writing(self) -> None:
        """Inline responses the client has not taken within `read_timeout`: close the connection."""
        now = time.monotonic()
        for conn, (_, deadline) in list(self._writing.items()):
            if now > deadline:
                self._drop_writing(conn)

    def _expire_reading(self) -> None:
        """Requests still arriving past their deadline: 408, or a silent close when nothing arrived at all."""
        now = time.monotonic()
        for conn in list(self._reading):
            waited = now - conn.read_started
            idle = not conn.request_buffer.data
            if idle and (waited > self.cfg.keepalive or not self.alive):
                self._stop_reading(conn)
                self._close(conn)
            elif waited > self.read_timeout:
                self._stop_reading(conn)
                self._close(
                    conn,
                    error_response(
                        "408 Request Timeout", f"the request did not arrive in full within {self.read_timeout:g} s"
                    ),
                )

    def handle_request(self, req, conn):
        hold_body(req, conn.parser.unreader)  # a body the loop read whole reaches the app without copies
        return super().handle_request(req, conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self._turn_served = 0
        super().wait_for_and_dispatch_events(timeout)
        if self._reading:
            self._expire_reading()
        if self._writing:
            self._expire_writing()
