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
"""

from __future__ import annotations

import mmap
import os
import struct
import time

from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

HEARTBEAT_S = 0.5  # how often a worker's main loop (which wakes at least every second) refreshes its slot
HEARTBEAT_STALE_S = 2.0  # older than this: the worker is hung or gone, leave it out
RECHECK_S = 0.01  # how soon a worker that left accepting to the others looks again


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


class CoalescingResponse(wsgi.Response):
    """gunicorn's HTTP/1 response, with the headers sent in the same write as the first body bytes.

    gunicorn writes the headers and the body with two sendall calls; on loopback and behind a proxy
    each write costs a syscall and wakes the reader. A response that is one bytes object (every JSON
    answer here) goes out in one write.
    """

    headers_sent: bool
    _held: bytes = b""
    _coalesce: bool = True

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        if not self._coalesce:
            super().send_headers()
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._held = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _flush_held(self, data: bytes = b"") -> bytes:
        held, self._held = self._held, b""
        return held + data if held else data

    def _emit_body(self, data: bytes) -> None:
        if self.chunked:
            if self._held:
                self.sock.sendall(self._flush_held())
            super()._emit_body(data)
        else:
            self.sock.sendall(self._flush_held(data))

    def sendfile(self, respiter) -> bool:
        self._coalesce = False  # os.sendfile writes the body itself: the headers go first, on their own
        return super().sendfile(respiter)

    def write(self, arg: bytes) -> None:
        super().write(arg)
        if self._held:  # a response that may carry no body (HEAD, 204, 304): the headers alone
            self.sock.sendall(self._flush_held())

    def close(self) -> None:
        self.send_headers()
        if self._held:
            self.sock.sendall(self._flush_held())
        super().close()


class BalancedThreadWorker(ThreadWorker):
    """gthread that accepts only while it holds no more connections than the least loaded live worker.

    gunicorn.conf.py gives each worker its `table` and `slot` in the master's pre_fork hook.
    """

    table: ConnectionTable | None = None
    slot: int = -1
    _checked_at: float = 0.0
    _published: int = -1
    _published_at: float = 0.0
    _notified_at: float = 0.0
    _fewest_elsewhere: int | None = None  # the least loaded live other worker's connections, as last read

    def init_process(self) -> None:
        wsgi.Response = CoalescingResponse  # in this worker process only, after the fork
        super().init_process()

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
        return super().handle_request(req, conn)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._fair())

    def accept(self, listener) -> None:
        super().accept(listener)
        if self._accepting and not self._fair():
            super().set_accept_enabled(False)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # While accepting, the others' connections may close: look again now and then (not after every event,
        # which is once per request), and let them catch up.
        if self._accepting and time.monotonic() - self._checked_at > RECHECK_S and not self._fair():
            super().set_accept_enabled(False)
        # Not accepting only to leave new connections to the others: look again soon, not in a second.
        held_back = self.alive and not self._accepting and self.nr_conns < self.worker_connections
        super().wait_for_and_dispatch_events(RECHECK_S if held_back else timeout)
        if self.nr_conns != self._published or time.monotonic() - self._published_at > HEARTBEAT_S:
            self._publish()
