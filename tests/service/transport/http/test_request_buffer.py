"""When the worker's event loop may hand a request to a thread: only once all of it has arrived."""

import pytest

from service.transport.http.worker.request_buffer import MAX_HEADER_BYTES, RequestBuffer

HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\n"


def _fed_bytewise(data: bytes, max_body: int = 1000) -> list[bool]:
    buffer = RequestBuffer(max_body)
    return [buffer.feed(data[i : i + 1]) for i in range(len(data))]


def test_a_request_without_a_body_is_complete_at_the_end_of_its_headers():
    states = _fed_bytewise(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert states[-1] is True
    assert not any(states[:-1])


def test_a_content_length_body_is_complete_with_its_last_byte():
    states = _fed_bytewise(HEAD + b"Content-Length: 5\r\n\r\nhello")
    assert states.index(True) == len(states) - 1


def test_a_chunked_body_is_complete_after_its_last_chunk_and_trailers():
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
    states = _fed_bytewise(request)
    assert states.index(True) == len(states) - 1
    assert _fed_bytewise(HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")[-1] is True


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: 5000\r\n\r\nab",  # over the body limit: the app answers 413
        HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n",  # conflicting: the parser answers 400
        HEAD + b"Content-Length: five\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        HEAD + b"no colon here\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_what_cannot_be_judged_here_is_handed_on_at_once(request_bytes):
    assert RequestBuffer(1000).feed(request_bytes) is True


def test_an_endless_header_block_is_handed_on_instead_of_buffered():
    buffer = RequestBuffer(1000)
    assert buffer.feed(HEAD + b"X: " + b"a" * MAX_HEADER_BYTES) is True


def test_pipelined_bytes_after_a_complete_request_are_kept():
    buffer = RequestBuffer(1000)
    assert buffer.feed(HEAD + b"Content-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n") is True
    assert bytes(buffer.data).endswith(b"GET / HTTP/1.1\r\n")
