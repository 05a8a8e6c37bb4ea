"""Gunicorn settings, all taken from the service's Settings (environment variables).

Run: gunicorn -c service/transport/http/gunicorn.conf.py
Each worker builds the app (and its onnxruntime sessions) after the fork: no preloading, since
sessions must not be shared across processes. The master makes one runtime directory that its
workers share: the serving state (which versions to serve) and the Prometheus multiprocess files.
Reading this file has no effects (gunicorn reads it again on HUP, and `gunicorn --check-config` reads it):
the directory, the environment it sets and the shared connection table are made in on_starting.
"""

import contextlib
import os
import shutil
import signal
import socket
import tempfile
from pathlib import Path

# Light imports only: nothing here loads onnxruntime, Flask or prometheus_client (which picks its storage
# when first imported, so it must come after on_starting has set PROMETHEUS_MULTIPROC_DIR). The service
# package turns onnxruntime's telemetry off when imported, in the master and so in every forked worker.
from service.settings import Settings
from service.transport.grpc.supervisor import GrpcSupervisor, PortTaken, check_port
from service.transport.http.worker.connection_table import ConnectionTable
from service.transport.http.worker.errors import use_json_errors

settings = Settings.from_env()
_runtime: dict = {"created_state_dir": False, "connection_table": None}  # what on_starting made

wsgi_app = "service:create_app()"
bind = [f"[{settings.host}]:{settings.port}" if ":" in settings.host else f"{settings.host}:{settings.port}"]
workers = settings.workers
BALANCED = settings.worker_class == "balanced"
if BALANCED:
    # gthread that spreads keep-alive connections evenly over the workers and reads requests in its event loop
    # (docs/performance.md), shedding what is beyond THREADS running and MAX_QUEUE waiting.
    worker_class = "service.transport.http.worker.workers.BalancedThreadWorker"
    threads = settings.threads
else:
    # Stock gthread (WORKER_CLASS=gthread): a thread for every request the app admits (THREADS running, MAX_QUEUE
    # waiting for a turn) and one more, to answer what is beyond them with a 503 (service/transport/http/limit.py).
    worker_class = "gthread"
    threads = settings.threads + settings.max_queue + 1
timeout = settings.request_timeout
graceful_timeout = 20
keepalive = 5
loglevel = settings.log_level
accesslog = None  # the app writes one JSON line per request
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "digit-serve"
control_socket_disable = True  # several servers on one host (tests, replicas) would share one socket path


def on_starting(server) -> None:
    """In the master, once, before any worker: the runtime directory, then the checks that fail once, clearly.

    The runtime directory (STATE_DIR, a fresh temporary one unless given) holds what the workers share: the
    serving state and the Prometheus multiprocess files, emptied at every start. Then: DEVICE=cuda that cannot
    be honoured, or a MODEL_DIR that cannot serve anything (missing, not a directory, unreadable, or without
    a single version), stops the master instead of every worker.
    """
    if not os.environ.get("STATE_DIR"):
        os.environ["STATE_DIR"] = tempfile.mkdtemp(prefix="digit-serve-")
        _runtime["created_state_dir"] = True
    state_dir = Path(os.environ["STATE_DIR"])
    metrics_dir = state_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "serving.json").unlink(missing_ok=True)  # a fresh server starts from disk
    (state_dir / "draining").unlink(missing_ok=True)  # and is not draining
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    use_json_errors()  # gunicorn's own 400, 414 and 431 in the service's JSON, in every worker forked from here
    if BALANCED:
        _runtime["connection_table"] = ConnectionTable()  # in the master, so that every forked worker shares it

    from service.core.model import choose_providers
    from service.core.registry import repository_problem

    try:
        choose_providers(settings.device)
    except RuntimeError as exc:
        server.log.error("%s", exc)
        raise SystemExit(f"digit-serve: {exc}") from None
    problem = repository_problem(Path(settings.model_dir))
    if problem:
        server.log.error("%s", problem)
        raise SystemExit(f"digit-serve: {problem}")
    _check_grpc_port(server)
    _open_feedback_store(server)


def _open_feedback_store(server) -> None:
    """Create the corrections' file (FEEDBACK_DIR) before any worker: the workers then open a file already in WAL
    mode instead of racing to create it. One that cannot be made is logged, and serving goes on without it
    (/feedback answers 507 or 503, /readyz says why; each worker tries again as it is used)."""
    if not settings.feedback_dir:
        return
    from service.core.feedback import FeedbackStore

    store = FeedbackStore(
        Path(settings.feedback_dir),
        settings.feedback_instance_name,
        settings.feedback_max_items,
        settings.feedback_max_bytes,
    )
    if store.problem is not None:
        server.log.error("corrections are not kept for now: %s", store.problem.message)


def _check_grpc_port(server) -> None:
    try:
        check_port(settings)
    except PortTaken as exc:
        server.log.error("%s", exc)
        raise SystemExit(f"digit-serve: {exc}") from None


def pre_fork(server, worker) -> None:
    """In the master, before each fork: the worker's slot in the shared connection table."""
    table = _runtime["connection_table"]
    if table is None:  # stock gthread
        return
    worker.table = table
    worker.slot = table.claim()
    worker.read_timeout = settings.read_timeout
    worker.max_body_bytes = settings.max_body_bytes
    worker.max_queue = settings.max_queue
    worker.inline_max_bytes = settings.inline_bytes


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
    if _runtime["connection_table"] is not None:
        _runtime["connection_table"].release(worker.slot)


_grpc = GrpcSupervisor(settings)  # the gRPC server processes (GRPC_PORT) beside the workers: started in when_ready


def when_ready(server) -> None:
    """Refuse new connections the moment SIGTERM arrives; start the gRPC servers (GRPC_PORT) beside the workers."""
    _refuse_connections_on_sigterm(server)
    _grpc.start_all(server.log)


def _refuse_connections_on_sigterm(server) -> None:
    """On SIGTERM, shut the listening sockets down in the master before gunicorn's own handling.

    The workers share each listening socket; closing one process's copy leaves it accepting into the
    kernel's backlog until every worker has closed its own, which a worker busy converting a large body
    does late. shutdown() stops the socket itself, for all of them at once: a new connection is refused
    at once, and requests already accepted finish as gunicorn's graceful stop intends.
    The gRPC servers stop too (they get the signal from the master, or with it from the process group):
    from now on their exit is the expected end, not a crash to restart.
    """

    def refuse() -> None:
        _grpc.mark_stopping()
        for listener in server.LISTENERS:
            with contextlib.suppress(OSError):
                listener.sock.shutdown(socket.SHUT_RDWR)

    _before_gunicorn(signal.SIGTERM, refuse)
    for other in (signal.SIGINT, signal.SIGQUIT):  # gunicorn's fast stops: the gRPC servers end with the master
        _before_gunicorn(other, _grpc.mark_stopping)


def _before_gunicorn(signum: int, action) -> None:
    """Run `action` when `signum` arrives, then gunicorn's own handler for it."""
    previous = signal.getsignal(signum)

    def handler(number, frame) -> None:
        action()
        if callable(previous):
            previous(number, frame)

    signal.signal(signum, handler)


def on_exit(server) -> None:
    _grpc.stop_all()
    if _runtime["created_state_dir"]:
        shutil.rmtree(os.environ["STATE_DIR"], ignore_errors=True)
