"""service/transport/http/worker/sockets.py: the socket wrapper the event loop writes through, and the unreader over
read-ahead bytes."""

import socket

import numpy as np
import pytest
from flask import Flask, request
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from werkzeug.exceptions import RequestEntityTooLarge

from service.transport.http.body import body_view
from service.transport.http.worker.sockets import HeldBody, HeldUnreader, LoopSocket, hold_body


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


def test_a_body_held_whole_reaches_the_app_as_a_view_and_the_next_request_parses_after_it():
    """hold_body: the 800 kB body becomes a HeldBody over the unreader's buffer; the pipelined request after it
    is parsed from what is left, and gunicorn's drain of the first finds nothing left to read."""
    first, second = bytes(range(256)) * 3200, b'{"inputs": []}'
    sock, other = socket.socketpair()
    parser = RequestParser(Config(), sock, ("127.0.0.1", 1))
    parser.unreader = HeldUnreader(sock)
    held = bytearray(_request(first) + _request(second, "/predict"))
    parser.unreader.unread(held)
    request = next(parser)
    hold_body(request, parser.unreader)
    assert isinstance(request.body, HeldBody) and request.body.length == len(first)
    view = request.body.take()
    assert view.readonly and bytes(view) == first
    assert np.shares_memory(np.frombuffer(view, np.uint8), np.frombuffer(held, np.uint8))  # no copy
    assert request.body.read() == b""  # taken: read to its end, as gunicorn's drain will find it
    following = next(parser)
    assert following.path == "/predict" and following.body.read() == second
    sock.close()
    other.close()


def test_a_held_body_reads_as_a_file_does():
    body = HeldBody(b"first line\nsecond\nthird")
    assert body.readline() == b"first line\n"
    assert body.read(3) == b"sec"
    into = bytearray(4)
    assert body.readinto(into) == 4 and into == b"ond\n"
    assert list(body) == [b"third"]
    assert body.read() == b"" and body.readline() == b"" and body.readinto(into) == 0
    again = HeldBody(bytearray(b"..a\nb\nc.."), 2, 7)
    assert again.readlines() == [b"a\n", b"b\n", b"c"]


def test_a_body_is_held_only_when_all_of_it_is_there():
    sock, other = socket.socketpair()
    parser = RequestParser(Config(), sock, ("127.0.0.1", 1))
    parser.unreader = HeldUnreader(sock)
    whole = _request(b"x" * 100)
    parser.unreader.unread(bytearray(whole[:-10]))  # ten bytes still on their way
    request = next(parser)
    original = request.body
    hold_body(request, parser.unreader)
    assert request.body is original  # gunicorn's own body, which reads the rest from the socket
    other.sendall(b"x" * 10)
    assert request.body.read() == b"x" * 100
    sock.close()
    other.close()


def test_body_view_takes_a_held_body_as_it_is_and_reads_any_other():
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64
    held = HeldBody(b"0123456789")
    with app.test_request_context("/", method="POST", data=b"0123456789", environ_overrides={"wsgi.input": held}):
        view = body_view(request)
        assert isinstance(view, memoryview) and bytes(view) == b"0123456789"
    with app.test_request_context("/", method="POST", data=b"read from the stream"):
        assert body_view(request) == b"read from the stream"
    too_long = HeldBody(b"x" * 65)
    with (
        app.test_request_context("/", method="POST", data=b"x" * 65, environ_overrides={"wsgi.input": too_long}),
        pytest.raises(RequestEntityTooLarge),
    ):
        body_view(request)


def test_werkzeug_reads_a_held_body_through_its_limited_stream():
    """What every other view does with a held body: request.get_data(), under MAX_CONTENT_LENGTH."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    data = bytes(range(256)) * 1000  # more than werkzeug's 64 KiB reads
    held = HeldBody(bytearray(b"GET / HTTP/1.1\r\n\r\n" + data), 18)
    overrides = {"wsgi.input": held, "wsgi.input_terminated": True}
    with app.test_request_context("/", method="POST", data=data, environ_overrides=overrides):
        assert request.get_data() == data


class _CountedBody(HeldBody):
    taken = 0

    def take(self) -> memoryview:
        self.taken += 1
        return super().take()


def _v2_post(client, body: bytes, headers: dict[str, str]):
    """POST /v2/models/mlp/infer with the body held as the worker holds it (a HeldBody in wsgi.input)."""
    held = _CountedBody(bytearray(body))
    response = client.post(
        "/v2/models/mlp/infer",
        data=body,
        headers=headers,
        environ_overrides={"wsgi.input": held, "wsgi.input_terminated": True},
    )
    assert held.taken == 1  # the view took it as it is: no copy through werkzeug
    return response


def test_v2_infers_from_a_held_body_as_a_view(client):
    from support.server import v2_binary_request

    batch = np.linspace(0, 1, 2 * 784, dtype=np.float32).reshape(2, 784)
    body, headers = v2_binary_request(batch)
    expected = client.post("/v2/models/mlp/infer", data=body, headers=headers)  # read by werkzeug
    held = _v2_post(client, body, headers)
    assert held.status_code == expected.status_code == 200 and held.data == expected.data
    raw = _v2_post(client, batch.tobytes(), {"Inference-Header-Content-Length": "0"})
    assert raw.status_code == 200 and raw.headers["Inference-Header-Content-Length"]
    import gzip

    zipped = _v2_post(client, gzip.compress(body), {**headers, "Content-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.data == expected.data
    broken = _v2_post(client, body[:-4], headers)  # a binary section 4 bytes short
    assert broken.status_code == 400 and broken.is_json
