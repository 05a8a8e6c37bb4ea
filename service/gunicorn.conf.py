"""Gunicorn settings, all taken from the service's Settings (environment variables).

Run: gunicorn -c service/gunicorn.conf.py
Each worker builds the app (and its onnxruntime sessions) after the fork: no preloading, since
sessions must not be shared across processes.
"""

import os

from service.registry import choose_providers
from service.settings import Settings

settings = Settings.from_env()

wsgi_app = "service:create_app()"
bind = [f"{settings.host}:{settings.port}"]
workers = settings.workers
threads = settings.threads
worker_class = "gthread"
timeout = settings.request_timeout
graceful_timeout = 20
keepalive = 5
loglevel = settings.log_level
accesslog = None
preload_app = False
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
proc_name = "digit-serve"
control_socket_disable = True  # several servers on one host (tests, replicas) would share one socket path


def on_starting(server) -> None:
    """Fail once, clearly, in the master when DEVICE=cuda cannot be honoured, instead of in every worker."""
    try:
        choose_providers(settings.device)
    except RuntimeError as exc:
        server.log.error("%s", exc)
        raise SystemExit(f"digit-serve: {exc}") from None
