"""Load on loopback that the reliability tests and the benchmarks share: ordinary keep-alive clients, and clients
that trickle their bodies a byte at a time. Bounded in count and time; 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

BODY = json.dumps({"model": "linear", "inputs": [1.0]})
HEADERS = {"Content-Type": "application/json"}
SLOW_HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"


def ordinary_requests(port: int, count: int, clients: int, timeout: float = 5.0) -> tuple[list[float], list[str]]:
    """`clients` threads, each with a keep-alive connection, `count` requests in all; latencies and failures."""
    latencies: list[float] = []
    failures: list[str] = []
    per_client = count // clients

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        for _ in range(per_client):
            started = time.perf_counter()
            try:
                connection.request("POST", "/predict", BODY, HEADERS)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    failures.append(str(response.status))
            except OSError as exc:
                failures.append(type(exc).__name__)
                connection.close()
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return latencies, failures


@contextlib.contextmanager
def trickling_clients(port: int, count: int = 64) -> Iterator[None]:
    """`count` connections sending a 1,000-byte /predict body a byte every quarter second, for as long as the
    block runs; each has started its request (and holds its connection) when the block begins."""
    slow = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        slow.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.25):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b" ")

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        time.sleep(0.5)
        yield
    finally:
        stop.set()
        trickler.join(5)
        for sock in slow:
            sock.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("inf")
