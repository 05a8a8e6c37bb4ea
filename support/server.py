"""Start the real gunicorn on a loopback port for integration tests; always stopped afterwards.

The port is chosen by the kernel (bind to port 0) on a socket this process opens and gunicorn inherits
(`--bind fd://N`), so no other process can take the port between choosing it and serving on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path("service/transport/http/gunicorn.conf.py")  # the service's gunicorn config, relative to ROOT


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket listening on a port the kernel picked, ready to hand to gunicorn."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def unused_port(host: str = "127.0.0.1") -> int:
    """A port free at this moment, for servers that bind it themselves (a container engine, gRPC), which
    cannot adopt a socket this process holds. Racy by nature: prefer `listening_socket` wherever it works."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def spawn_gunicorn(
    args: list[str],
    env: dict[str, str],
    log_path: Path,
    host: str = "127.0.0.1",
    cwd: Path = ROOT,
    python: str = sys.executable,
) -> tuple[subprocess.Popen, str]:
    """gunicorn `args` serving on a fresh loopback socket it inherits; returns the process and its base URL.
    `python` is the interpreter whose gunicorn runs (another environment's, for an installed package)."""
    sock = listening_socket(host)
    try:
        port = sock.getsockname()[1]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [python, "-m", "gunicorn", *args, "--bind", f"fd://{sock.fileno()}"],
                cwd=cwd,
                env={**env, "PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
            )
    finally:
        sock.close()  # gunicorn holds its own copy
    return process, f"http://{host}:{port}"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def wait_until(condition: Callable[[], Any], timeout: float, what: str | Callable[[], str], interval: float = 0.05):
    """Poll `condition` until it returns something true, and return that; after `timeout` seconds fail with
    `what` (or what `what()` says then, e.g. the server's log). The one poll loop of the tests."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)
    return found


def wait_ready(server: Server, workers: int, timeout: float, path: str = "/readyz") -> None:
    """Until `path` answers 200 and the master has forked every worker; raise with the log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            if (
                requests.get(f"{server.url}{path}", timeout=2).status_code == 200
                and len(server.worker_pids()) >= workers
            ):
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or a worker still loading its models on a busy machine: ask again
        if time.monotonic() > deadline:
            raise TimeoutError(f"gunicorn not ready in {timeout} s:\n{server.log()}")
        time.sleep(0.1)


def wait_grpc_ready(client, timeout: float = 30.0, why: Callable[[], str] = lambda: "") -> None:
    """Poll a tritonclient.grpc client until the server says ready; fail with `why()` after `timeout` seconds."""

    def ready() -> bool:
        try:
            return client.is_server_ready()
        except Exception:  # noqa: BLE001 - not listening yet: the client raises InferenceServerException
            return False

    wait_until(ready, timeout, lambda: f"the gRPC server to become ready. {why()}", interval=0.2)


@contextlib.contextmanager
def running_server(
    tmp_path: Path,
    ready_timeout: float = 60.0,
    unset: tuple[str, ...] = (),
    ready_path: str = "/readyz",
    *,
    python: str = sys.executable,
    config: Path = CONFIG,
    cwd: Path = ROOT,
    **env: str,
) -> Iterator[Server]:
    """gunicorn with the service's config on 127.0.0.1; yields once /readyz answers 200.

    `env` is added to this process's environment and the names in `unset` are removed from it. `python`, `config`
    and `cwd` serve another environment's installed copy instead of this checkout.
    """
    log_path = tmp_path / f"gunicorn-{time.monotonic_ns()}.log"
    with _serving(
        ["-c", str(config)],
        {"LOG_LEVEL": "info", **env},
        int(env.get("WORKERS", "2")),
        log_path,
        ready_timeout,
        ready_path,
        unset,
        python,
        cwd,
    ) as server:
        yield server


@contextlib.contextmanager
def _serving(
    args: list[str],
    env: dict[str, str],
    workers: int,
    log_path: Path,
    ready_timeout: float,
    ready_path: str,
    unset: tuple[str, ...] = (),
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> Iterator[Server]:
    """gunicorn on a fresh loopback socket, ready when `ready_path` answers 200 and every worker is up; stopped
    afterwards. GRPC_PORT 0: no gRPC server unless the caller asks for one."""
    environ = {
        **os.environ,
        "HOST": "127.0.0.1",
        "GRPC_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        **env,
        "WORKERS": str(workers),
    }
    for name in unset:
        environ.pop(name, None)
    process, url = spawn_gunicorn(args, environ, log_path, cwd=cwd, python=python)
    server = Server(url, process, log_path)
    try:
        wait_ready(server, workers, ready_timeout, path=ready_path)
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


@contextlib.contextmanager
def gunicorn(
    name: str,
    args: list[str],
    env: dict[str, str] | None = None,
    workers: int = 2,
    ready_path: str = "/readyz",
    log_dir: Path | None = None,
    cwd: Path = ROOT,
) -> Iterator[Server]:
    """A gunicorn server for the benchmarks (`name` names its log), settled for half a second once ready. It runs
    in `cwd`, which `python -m gunicorn` puts first on sys.path: the checkout whose `service` package it imports."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-"))
    with _serving(args, env or {}, workers, log_dir / f"{name}.log", 60, ready_path, cwd=cwd) as server:
        time.sleep(0.5)  # the last worker to fork finishes warming up
        yield server


def v2_binary_request(batch: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """An open-inference-protocol request for the classifiers: `batch` as raw FP32, binary output asked for."""
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": list(batch.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": batch.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + batch.tobytes(), {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream",
    }


def _tcp_sockets(port: int) -> list[tuple[str, int]]:
    """(state, receive queue) of every IPv4 TCP socket whose local port is `port` (from /proc/net/tcp)."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.append((fields[3], int(fields[4].split(":")[1], 16)))
    return found


def listener_queue(port: int) -> int:
    """Connections on `port` the kernel has completed and no process has accepted yet (the listener's backlog)."""
    return sum(queue for state, queue in _tcp_sockets(port) if state == "0A")  # 0A: LISTEN


def established(port: int) -> int:
    """Connections to the server on `port` that are open, accepted or still in its queue."""
    return sum(1 for state, _ in _tcp_sockets(port) if state == "01")  # 01: ESTABLISHED


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
