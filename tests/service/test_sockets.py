"""service/sockets.py: the socket wrapper the event loop writes through, and the unreader over read-ahead bytes."""

import socket

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser

from service.transport.http.worker.sockets import HeldUnreader, LoopSocket


def test_a_loop_socket_keeps_what_the_kernel_does_not_take_until_it_is_flushed():
    server, client = socket.socketpair()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server.setblocking(False)
    wrapped = LoopSocket(server)
    wrapped.inline = True
    message = bytes(range(256)) * 4096  # 1 MiB: more than the socket pair's buffers
    wrapped.sendall(message)
    assert 0 < len(wrapped.pending) < len(message)
    received = bytearray()
    client.settimeout(5)
    while not wrapped.flush() or len(received) < len(message):
        received += client.recv(1 << 16)
    assert bytes(received) == message and not wrapped.pending
    wrapped.inline = False
    wrapped.setblocking(True)  # outside the loop it is the socket itself
    assert server.getblocking()
    server.close()
    client.close()


def _request(body: bytes, path: str = "/v2/models/mlp/infer") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("read_size", [1, 1000, 65536, 10**7])
def test_gunicorn_parses_requests_read_ahead_in_a_held_unreader_as_from_its_own(read_size):
    """Two pipelined requests, the first with an 800 kB body, read as werkzeug reads bodies (in pieces)."""
    first, second = bytes(range(256)) * 3200, b'{"inputs": []}'
    sock, other = socket.socketpair()
    parser = RequestParser(Config(), sock, ("127.0.0.1", 1))
    parser.unreader = HeldUnreader(sock)
    parser.unreader.unread(bytearray(_request(first) + _request(second, "/predict")))
    seen = []
    for _ in range(2):
        request = next(parser)
        body = bytearray()
        while piece := request.body.read(read_size):
            body += piece
        seen.append((request.path, dict(request.headers)["CONTENT-LENGTH"], bytes(body)))
    assert seen == [("/v2/models/mlp/infer", str(len(first)), first), ("/predict", str(len(second)), second)]
    assert parser.unreader.buf.getvalue() == b""  # nothing read ahead is left over
    sock.close()
    other.close()


def test_a_held_unreader_gives_back_what_was_read_and_reads_the_socket_when_it_runs_out():
    sock, other = socket.socketpair()
    unreader = HeldUnreader(sock, max_chunk=4)
    unreader.unread(bytearray(b"abcdefgh"))
    assert unreader.read() == b"abcd"  # "the next chunk": at most what a caller reads at once
    unreader.unread(b"cd")  # the tail of what was just read
    unreader.unread(b"xy")  # anything else goes in front
    assert unreader.read(6) == b"xycdef"
    other.sendall(b"ijkl")
    assert unreader.read(4) == b"ghij"  # two held, two more from the socket
    assert unreader.take_buffered() == b"kl"
    sock.close()
    other.close()
