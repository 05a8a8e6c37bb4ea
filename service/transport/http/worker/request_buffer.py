"""Is an HTTP/1.1 request complete yet? Bytes in, yes or no out: the worker's event loop asks before a thread
is spent on the request. Pure: no sockets in here.

A request is complete when its header block has ended and its body has arrived: Content-Length bytes,
or a chunked body up to its last chunk and trailers. Whatever cannot be judged (a malformed header
block, a body announced larger than the service takes, a header block over the limit) counts as
complete at once, so that gunicorn's parser and the app answer it with their usual 4xx instead of the
server buffering it.
"""

from __future__ import annotations

MAX_HEADER_BYTES = 64 * 1024


class RequestBuffer:
    """The bytes of one request as they arrive; `feed` returns True once the whole request is here."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.data = bytearray()
        self._body_start = -1
        self._length: int | None = None  # Content-Length, once the headers are in
        self._chunked = False
        self._scan = 0  # chunked: where the next chunk-size line starts
        self._chunked_received = 0
        self.complete = False

    def feed(self, data: bytes) -> bool:
        self.data += data
        if not self.complete:
            self.complete = self._judge()
        return self.complete

    def _judge(self) -> bool:
        if self._body_start < 0:
            end = self.data.find(b"\r\n\r\n")
            if end < 0:
                return len(self.data) > MAX_HEADER_BYTES
            self._body_start = self._scan = end + 4
            if not self._read_headers(bytes(self.data[:end])):
                return True
        if self._chunked:
            return self._chunks_done()
        assert self._length is not None
        return len(self.data) - self._body_start >= self._length

    def _read_headers(self, block: bytes) -> bool:
        """Content-Length or chunked from the header block; False when it cannot be judged here."""
        lengths, chunked = [], False
        for line in block.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                return False
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                chunked = chunked or b"chunked" in value.lower()
        if chunked:
            self._chunked = not lengths  # both at once is malformed: let the parser refuse it
            return self._chunked
        if len(set(lengths)) > 1 or (lengths and not lengths[0].isdigit()):
            return False
        self._length = int(lengths[0]) if lengths else 0
        return self._length <= self.max_body_bytes

    def _chunks_done(self) -> bool:
        while True:
            line_end = self.data.find(b"\r\n", self._scan)
            if line_end < 0:
                return False
            size_text = bytes(self.data[self._scan : line_end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                return True  # malformed: the parser answers it
            if size == 0:  # the last chunk: then trailers, if any, and an empty line
                return self.data.find(b"\r\n\r\n", line_end) >= 0
            chunk_end = line_end + 2 + size + 2
            if len(self.data) < chunk_end:
                return False
            self._chunked_received += size
            if self._chunked_received > self.max_body_bytes:
                return True  # over the limit: let the app refuse it rather than buffering more
            self._scan = chunk_end
