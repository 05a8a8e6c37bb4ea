"""Small requests run in the worker's event loop (service/transport/http/worker/loop_serving.py): a client that does
not read its responses must hold no one else up, and must not keep its connection for ever. One worker, so that every
client lands on the loop under test. Loopback only, bounded in count and time."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from support.server import running_server

pytestmark = pytest.mark.slow
BUNDLE = b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n"  # a small request, a 1 MB file answer
PIPELINED = 20  # requests sent at once on one connection: 20 MB of answers, far more than the sockets buffer


def _reader(port: int) -> socket.socket:
    """A connection with a tiny receive buffer: the server's responses back up after a few kilobytes."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_all(sock: socket.socket, seconds: float) -> bytes:
    received, deadline = bytearray(), time.monotonic() + seconds
    sock.settimeout(2)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            break
        except ConnectionResetError:
            break
        if not data:
            break
        received += data
    return bytes(received)


def test_a_client_that_does_not_read_its_responses_holds_no_one_else_up(tmp_path, models_dir):
    with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKERS="1") as server:
        port, worker = server.port, server.worker_pids()
        stalled, abandoned = _reader(port), _reader(port)
        stalled.sendall(BUNDLE * PIPELINED)  # none of the answers read yet
        abandoned.sendall(BUNDLE * PIPELINED)
        time.sleep(0.5)
        started = time.monotonic()
        for _ in range(20):
            assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        others_waited = time.monotonic() - started
        abandoned.close()  # gone with its answers unread: the worker drops them
        answers = _read_all(stalled, 30)
        stalled.close()
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        assert server.worker_pids() == worker, server.log()
    assert answers.count(b"HTTP/1.1 200 OK\r\n") == PIPELINED  # every answer, in full, once the client read them
    assert others_waited < 10.0  # 20 requests, well under a second here: only a blocked loop comes near this
    assert "Traceback" not in server.log()


def test_a_response_not_taken_within_the_read_timeout_closes_the_connection(tmp_path, models_dir):
    with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKERS="1", READ_TIMEOUT="1") as server:
        stalled = _reader(server.port)
        stalled.sendall(BUNDLE * PIPELINED)
        time.sleep(3)  # past READ_TIMEOUT with the first answers unread
        answers = _read_all(stalled, 10)
        stalled.close()
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
    assert answers.count(b"HTTP/1.1 200 OK\r\n") < PIPELINED
