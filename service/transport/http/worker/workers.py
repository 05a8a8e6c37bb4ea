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

What this relies on inside gunicorn 27 (requirements/serve.in allows >=27.0.1,<28;
tests/service/transport/http/test_gunicorn_internals.py fails with the name of whatever an upgrade removed or
changed):
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

The worker is built of two parts, each gthread with one concern added: balancing.py (which connections this worker
takes) and loop_serving.py (how its event loop reads, serves and sheds requests); connection_table.py is the
memory they share across workers.
"""

from __future__ import annotations

import time

from service.transport.http.worker.balancing import HEARTBEAT_S, AcceptBalancing
from service.transport.http.worker.loop_serving import LoopServing

__all__ = ["BalancedThreadWorker"]


class BalancedThreadWorker(AcceptBalancing, LoopServing):
    """gthread that balances connections (balancing.py), reads requests without a thread and sheds load when full
    (loop_serving.py). gunicorn.conf.py gives each worker its `table`, `slot` and limits in the master's pre_fork
    hook."""

    _notified_at: float = 0.0

    def notify(self) -> None:
        # gthread tells the arbiter it is alive (a utime syscall) on every loop turn, i.e. after every request;
        # twice a second is plenty for a timeout counted in tens of seconds.
        now = time.monotonic()
        if now - self._notified_at >= HEARTBEAT_S:
            self._notified_at = now
            super().notify()
