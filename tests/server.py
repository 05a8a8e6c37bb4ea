"""Start the real gunicorn on a free loopback port for integration tests; always stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@contextlib.contextmanager
def running_server(tmp_path: Path, ready_timeout: float = 60.0, unset: tuple[str, ...] = (),
                   **env: str) -> Iterator[Server]:
    """gunicorn with the service's config on 127.0.0.1; yields once /readyz answers 200.

    `env` is added to this process's environment and the names in `unset` are removed from it.
    """
    port = free_port()
    environ = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "2", "LOG_LEVEL": "info",
               "PYTHONUNBUFFERED": "1", **env}
    for name in unset:
        environ.pop(name, None)
    log_path = tmp_path / f"gunicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "service/gunicorn.conf.py"],
                                   cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
            workers = int(environ["WORKERS"])
            if server.log().count(" ready: ") >= workers:  # every worker, not only the first, has its models
                try:
                    if requests.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"gunicorn not ready in {ready_timeout} s:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
