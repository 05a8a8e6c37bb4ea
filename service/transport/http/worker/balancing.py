"""Accept balancing: a worker accepts only while it holds no more connections than the least loaded live worker,
and one holding more than one above that answers "Connection: close", so that its clients reconnect elsewhere.

Each worker publishes its open connections in the master's ConnectionTable (connection_table.py) and reads the
others' there: when it accepts, now and then in its event loop, and at least every HEARTBEAT_S.
"""

from __future__ import annotations

import errno
import time

from gunicorn.workers.gthread import ThreadWorker

from service.transport.http.worker.connection_table import ConnectionTable

HEARTBEAT_S = 0.5  # how often a worker's main loop (which wakes at least every second) refreshes its slot
RECHECK_S = 0.01  # how soon a worker that left accepting to the others looks again


class AcceptBalancing(ThreadWorker):
    """gthread that takes no more than its share of the connections (see above)."""

    table: ConnectionTable | None = None
    slot: int = -1
    _listeners_shut: bool = False
    _checked_at: float = 0.0
    _published: int = -1
    _published_at: float = 0.0
    _fewest_elsewhere: int | None = None  # the least loaded live other worker's connections, as last read

    def run(self) -> None:
        self._publish()  # the app is loaded: count this worker in from its first accept, not its first event
        super().run()

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

    def handle_request(self, req, conn):
        # Holding more than a fair share (a worker that started or restarted later holds none of the
        # connections made before): answer with "Connection: close", and the client's next connection is
        # accepted by a less loaded worker. Runs in a request thread; reads what the main loop last saw.
        fewest = self._fewest_elsewhere
        if fewest is not None and self.nr_conns > fewest + 1:
            req.must_close = True
        return super().handle_request(req, conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # While accepting, the others' connections may close: look again now and then (not after every event,
        # which is once per request), and let them catch up.
        if self._accepting and time.monotonic() - self._checked_at > RECHECK_S and not self._fair():
            super().set_accept_enabled(False)
        # Not accepting only to leave new connections to the others: look again soon, not in a second.
        held_back = self.alive and not self._accepting and self.nr_conns < self.worker_connections
        super().wait_for_and_dispatch_events(RECHECK_S if held_back else min(timeout, 1.0))
        if self.nr_conns != self._published or time.monotonic() - self._published_at > HEARTBEAT_S:
            self._publish()
