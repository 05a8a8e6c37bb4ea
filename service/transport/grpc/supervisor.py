"""The gRPC server processes beside gunicorn's workers: checked, started, restarted and stopped by the master.

gunicorn's hooks (service/transport/http/gunicorn.conf.py) call these. Each process is `python -m
service.transport.grpc` (service/transport/grpc/server.py), and every one binds GRPC_PORT with SO_REUSEPORT, so
the kernel spreads the connections over them. One that dies while the service runs is started again, as the
master does for a worker; once the service is stopping, an exit is the expected end.

Light imports only, like the config that calls it: the master must not load grpc (its threads do not survive a
fork) nor prometheus_client before PROMETHEUS_MULTIPROC_DIR is set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from typing import Protocol

from service.settings import Settings

# A SIGTERM to the whole process group (a container runtime, Ctrl-C) reaches a gRPC server too, which may exit
# before the master's main thread has run its handler: this long after an exit, it is called a crash.
CRASH_GRACE_S = 1.0
STOP_TIMEOUT_S = 25.0  # a process's own graceful stop (health NOT_SERVING, calls in flight finish) before a kill


class Log(Protocol):
    def info(self, message: str, *args: object) -> None: ...
    def error(self, message: str, *args: object) -> None: ...


class PortTaken(Exception):
    """GRPC_PORT is held by another program."""


def check_port(settings: Settings) -> None:
    """Fail at start, as HTTP does, when GRPC_PORT is held by another program (another instance, say): the gRPC
    processes bind it with SO_REUSEPORT so that they share it, and would otherwise share it with that one too. The
    probe binds without SO_REUSEPORT, which any other listener on the port refuses; it is closed before this
    server's own gRPC processes start."""
    if not settings.grpc_port:
        return
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds: past TIME_WAIT, not a listener
        try:
            probe.bind((settings.host, settings.grpc_port))
        except OSError as exc:
            raise PortTaken(
                f"cannot listen for gRPC on {settings.host}:{settings.grpc_port} (GRPC_PORT): {exc.strerror}"
            ) from None


class GrpcSupervisor:
    """The GRPC_PROCESSES gRPC servers of one gunicorn master."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: dict[int, subprocess.Popen] = {}
        self.stopping = False

    def start_all(self, log: Log) -> None:
        if self.settings.grpc_port:
            for slot in range(self.settings.grpc_processes):
                self._start(log, slot)

    def mark_stopping(self) -> None:
        """From now on a process's exit is the expected end, not a crash to restart."""
        self.stopping = True

    def stop_all(self) -> None:
        self.stopping = True
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()

    def _start(self, log: Log, slot: int) -> None:
        process = subprocess.Popen([sys.executable, "-m", "service.transport.grpc"], env=os.environ.copy())
        self.processes[slot] = process
        log.info("gRPC server %d started (pid %d) on port %d", slot, process.pid, self.settings.grpc_port)
        threading.Thread(target=self._watch, args=(log, slot, process), name=f"grpc-watch-{slot}", daemon=True).start()

    def _watch(self, log: Log, slot: int, process: subprocess.Popen) -> None:
        """Restart a gRPC server that dies while the service runs."""
        process.wait()
        from prometheus_client import multiprocess  # after on_starting set PROMETHEUS_MULTIPROC_DIR, as above

        multiprocess.mark_process_dead(process.pid)
        time.sleep(CRASH_GRACE_S)
        if self.stopping:
            return
        # No exit status: gunicorn's arbiter reaps every child of the master (os.waitpid(-1)), so Popen.wait() here
        # often finds the process already reaped and cannot tell how it ended.
        log.error("gRPC server %d (pid %d) ended while the service runs; starting another", slot, process.pid)
        self._start(log, slot)
