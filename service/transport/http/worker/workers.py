"""A gunicorn worker class that spreads keep-alive connections evenly over the workers.

gunicorn's gthread workers share one listening socket and each accepts whatever it is woken for. A
keep-alive connection then stays with the worker that accepted it, so when clients connect in a burst
(a load balancer's pool, an SDK's session, a benchmark) one worker can end up holding every connection
while the others idle: measured here in 10 of 32 runs, halving throughput.

`BalancedThreadWorker` is gthread with two rules added:
- a worker accepts a new connection only while it holds no more open connections than the least loaded
  live worker;
- a worker holding more than one connection above that answers with "Connection: close", so that the
  client reconnects to a less loaded worker: connections made before a worker started (or restarted)
  move over to it instead of staying where they are for as long as the client keeps them.
The counts live in a small table of shared memory that the master creates before forking
(`ConnectionTable`); each worker publishes its own count and a heartbeat in its slot. A worker whose
heartbeat is stale (hung, or gone) is left out, so one stuck worker cannot stop the others.

What this relies on inside gunicorn 27 (pyproject.toml allows >=27.0.1,<28; tests/service/test_gunicorn_internals.py
fails with the name of whatever an upgrade removed or changed):
- ThreadWorker methods overridden or called: enqueue_req, finish_request(conn, fs) (called with a finished
  Future for a request served in the loop), handle, handle_request, set_accept_enabled, accept,
  wait_for_and_dispatch_events, init_process, run, notify; its attributes _accepting, nr_conns, poller,
  method_queue (PollableMethodQueue.defer), worker_connections.
- TConn: sock (replaced by a LoopSocket before the parser is made), parser (its unreader replaced by a
  HeldUnreader), init(), initialized, data_ready, is_http2, close().
- gunicorn.http.wsgi.Response, replaced in each worker by CoalescingResponse
  (service/transport/http/worker/sockets.py), which overrides send_headers, _emit_body, sendfile, write and close;
  SocketUnreader's read, unread, take_buffered, chunk and mxchunk; finish_request's check of
  `conn.parser.unreader.buf.getvalue()`.
- Request.body (a Body over a LengthReader: its `buf`, the reader's `length`), replaced by a HeldBody
  (service/transport/http/worker/sockets.py) when the loop holds the whole body; Parser.finish_body's
  `body.read` and `body.failed`.
- gunicorn.util.write_error, which Worker.handle_error calls for gunicorn's own 400, 414 and 431, replaced in the
  master by errors.write_json_error (which writes with gunicorn.util.write_nonblock) so they are JSON too.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import selectors
import struct
import time
from concurrent import futures
from functools import partial

from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from service.transport.http.worker.errors import error_response
from service.transport.http.worker.request_buffer import RequestBuffer
from service.transport.http.worker.sockets import CoalescingResponse, HeldUnreader, LoopSocket, hold_body

HEARTBEAT_S = 0.5  # how often a worker's main loop (which wakes at least every second) refreshes its slot
HEARTBEAT_STALE_S = 2.0  # older than this: the worker is hung or gone, leave it out
RECHECK_S = 0.01  # how soon a worker that left accepting to the others looks again
RECV_BYTES = 256 * 1024


class ConnectionTable:
    """Open connections and a heartbeat per worker slot, in memory shared by the master and its workers."""

    SLOT = struct.Struct("qqd")  # pid, open connections, heartbeat (time.monotonic, the same clock everywhere)
    HEADER = struct.Struct("q")  # slots in use: the highest claimed slot + 1, so readers scan no further

    def __init__(self, slots: int = 256) -> None:
        self.slots = slots
        # Anonymous and shared: inherited across fork, gone with the last process that maps it.
        self._memory = mmap.mmap(-1, self.HEADER.size + slots * self.SLOT.size)

    def _offset(self, slot: int) -> int:
        return self.HEADER.size + slot * self.SLOT.size

    def _in_use(self) -> int:
        return self.HEADER.unpack_from(self._memory, 0)[0]

    def claim(self) -> int:
        """A free slot, reserved for a worker about to be forked (called in the master only)."""
        for slot in range(self.slots):
            if self.SLOT.unpack_from(self._memory, self._offset(slot))[0] == 0:
                self.SLOT.pack_into(self._memory, self._offset(slot), -1, 0, time.monotonic())
                self.HEADER.pack_into(self._memory, 0, max(self._in_use(), slot + 1))
                return slot
        raise RuntimeError(f"more than {self.slots} workers")

    def release(self, slot: int) -> None:
        self.SLOT.pack_into(self._memory, self._offset(slot), 0, 0, 0.0)

    def publish(self, slot: int, connections: int) -> None:
        self.SLOT.pack_into(self._memory, self._offset(slot), os.getpid(), connections, time.monotonic())

    def others(self, slot: int) -> list[int]:
        """Open connections of every other worker whose heartbeat is fresh."""
        now = time.monotonic()
        found = []
        for other in range(self._in_use()):
            pid, connections, beat = self.SLOT.unpack_from(self._memory, self._offset(other))
            if other != slot and pid > 0 and now - beat < HEARTBEAT_STALE_S:
                found.append(connections)
        return found


class BalancedThreadWorker(ThreadWorker):
    """gthread that balances connections, reads requests without a thread, and sheds load when full.

    - Accepts only while it holds no more connections than the least loaded live worker (see above).
    - Reads each request whole in its event loop (non-blocking) before a thread is spent on it, so a
      client trickling its headers or body holds a socket and some memory, never a thread; a request
      not complete within `read_timeout` is answered 408 (or closed silently if nothing came at all
      within the keep-alive timeout).
    - Hands a body it holds whole to the app as one buffer (`hold_body`): read from it, or taken as a view
      (service/transport/http/body.py), never copied through gunicorn's and werkzeug's readers.
    - Runs a small request (a body of at most `inline_max_bytes`) in the event loop itself once all of its
      bytes are there, instead of handing it to a thread and back: that hand-off (a future, a queue, two
      thread switches, the wake-up pipe) cost a third of a small request's CPU. Its response is written
      without blocking (service/transport/http/worker/sockets.py). Larger requests, and every request while
      adaptive batching is on (which needs concurrent callers), go to the thread pool.
    - Sheds load: with `threads + max_queue` requests already running or waiting (in the pool, or served
      by the loop before this one in the same turn), a new one is answered at once with a JSON 503 and
      Retry-After instead of queueing without bound.

    gunicorn.conf.py gives each worker its `table`, `slot` and limits in the master's pre_fork hook.
    """

    table: ConnectionTable | None = None
    slot: int = -1
    read_timeout: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_queue: int = 64
    inline_max_bytes: int = 64 * 1024
    _in_pool: int = 0  # requests handed to the thread pool and not finished: running or waiting
    _listeners_shut: bool = False
    _checked_at: float = 0.0
    _published: int = -1
    _published_at: float = 0.0
    _notified_at: float = 0.0
    _fewest_elsewhere: int | None = None  # the least loaded live other worker's connections, as last read
    _turn_served: int = 0  # requests the loop has served itself in this turn of the event loop
    _inline_depth: int = 0  # > 0 while the loop serves a request: a pipelined one behind it waits its turn

    def init_process(self) -> None:
        wsgi.Response = CoalescingResponse  # in this worker process only, after the fork
        self._reading: dict = {}  # connections whose request is still arriving, oldest first
        self._writing: dict = {}  # connections whose inline response is still leaving -> (keep-alive, deadline)
        super().init_process()

    # -- reading requests in the event loop ---------------------------------------------------------
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
            from service import observability  # after the fork, where the metrics directory is set

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

    # -- serving small requests in the event loop ---------------------------------------------------
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

    def run(self) -> None:
        self._publish()  # the app is loaded: count this worker in from its first accept, not its first event
        super().run()

    def notify(self) -> None:
        # gthread tells the arbiter it is alive (a utime syscall) on every loop turn, i.e. after every request;
        # twice a second is plenty for a timeout counted in tens of seconds.
        now = time.monotonic()
        if now - self._notified_at >= HEARTBEAT_S:
            self._notified_at = now
            super().notify()

    def _publish(self) -> None:
        if self.table is not None:
            self.table.publish(self.slot, self.nr_conns)
            self._published, self._published_at = self.nr_conns, time.monotonic()

    def _fair(self) -> bool:
        if self.table is None:
            return True
        self._publish()
        self._checked_at = time.monotonic()
        others = self.table.others(self.slot)
        self._fewest_elsewhere = min(others) if others else None
        return not others or self.nr_conns <= min(others)

    def handle_request(self, req, conn):
        # Holding more than a fair share (a worker that started or restarted later holds none of the
        # connections made before): answer with "Connection: close", and the client's next connection is
        # accepted by a less loaded worker. Runs in a request thread; reads what the main loop last saw.
        fewest = self._fewest_elsewhere
        if fewest is not None and self.nr_conns > fewest + 1:
            req.must_close = True
        hold_body(req, conn.parser.unreader)  # a body the loop read whole reaches the app without copies
        return super().handle_request(req, conn)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and not self._listeners_shut and self._fair())
        if not self.alive:
            # Shutting down: close this process's copy of the listening socket now, not at exit, so that
            # once the master has closed its own, a new connection is refused at once instead of waiting
            # in the kernel's backlog for a worker that will never accept it.
            for listener in self.sockets:
                listener.close()

    def accept(self, listener) -> None:
        try:
            super().accept(listener)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            # The master shut the listening sockets down (SIGTERM, gunicorn.conf.py): stop accepting for good;
            # this worker's own SIGTERM follows, and its requests in flight finish.
            self._listeners_shut = True
            super().set_accept_enabled(False)
            return
        if self._accepting and not self._fair():
            super().set_accept_enabled(False)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # While accepting, the others' connections may close: look again now and then (not after every event,
        # which is once per request), and let them catch up.
        if self._accepting and time.monotonic() - self._checked_at > RECHECK_S and not self._fair():
            super().set_accept_enabled(False)
        # Not accepting only to leave new connections to the others: look again soon, not in a second.
        held_back = self.alive and not self._accepting and self.nr_conns < self.worker_connections
        self._turn_served = 0
        super().wait_for_and_dispatch_events(RECHECK_S if held_back else min(timeout, 1.0))
        if self._reading:
            self._expire_reading()
        if self._writing:
            self._expire_writing()
        if self.nr_conns != self._published or time.monotonic() - self._published_at > HEARTBEAT_S:
            self._publish()
