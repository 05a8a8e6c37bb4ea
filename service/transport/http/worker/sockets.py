"""How a response reaches the client's socket: one write for headers and body, and writes that never block.

`CoalescingResponse` is gunicorn's HTTP/1 response with the headers held back until the first body bytes, so
that a response that is one bytes object goes out in one write (gunicorn writes headers and body with two).

`HeldBody` is a request's body that the event loop already holds whole: the app reads it from that one buffer,
and `body_view` (service/transport/http/body.py) hands it out as a view, without a copy.

`LoopSocket` wraps every HTTP/1 client socket of a `BalancedThreadWorker`. In a request thread it is the
socket, blocking. While the worker's event loop runs a request itself (`inline`, see
service/transport/http/worker/loop_serving.py), it is non-blocking: `sendall` sends what the kernel takes and keeps the
rest in `pending`, which the loop flushes when the socket becomes writable. A client that does not read its responses
then holds memory (one response), never the loop.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

from gunicorn.http import wsgi
from gunicorn.http.body import LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader, Unreader


class LoopSocket:
    """A client socket whose writes do not block while `inline` is set. Everything else goes to the socket."""

    __slots__ = ("_sock", "inline", "pending")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.inline = False
        self.pending = bytearray()

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def setblocking(self, flag: bool) -> None:
        if not self.inline:  # gunicorn makes the socket blocking before it handles a request; not on the loop
            self._sock.setblocking(flag)

    def sendall(self, data) -> None:
        if not self.inline:
            self._sock.sendall(data)
            return
        if not self.pending:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
        self.pending += data

    def leave_loop(self) -> None:
        """Back to an ordinary blocking socket for gunicorn, with nothing left to send (or nothing wanted)."""
        self.inline = False
        self.pending.clear()

    def flush(self) -> bool:
        """Send what is pending: True once nothing is left. OSError when the client is gone."""
        while self.pending:
            try:
                sent = self._sock.send(self.pending)
            except (BlockingIOError, InterruptedError):
                return False
            del self.pending[:sent]
        return True


class HeldUnreader(SocketUnreader):
    """gunicorn's socket unreader over a bytearray, for requests whose bytes the event loop has already read.

    gunicorn keeps what it has read ahead in a BytesIO and copies all of it on every read: a body read 64 KiB
    at a time (as werkzeug reads it) from an 800 KB request was copied a dozen times over, and the header
    parser copied the whole request a few times more. Here each read takes its bytes off the front of one
    bytearray, and a read of "the next chunk" returns at most what the caller may use, so that parsing the
    header block copies kilobytes, not the body.
    """

    def __init__(self, sock, max_chunk: int = 8192) -> None:
        self._data: bytes | bytearray = b""  # what is read ahead is self._data[self._at:]
        self._at = 0
        super().__init__(sock, max_chunk)

    @property
    def buf(self) -> io.BytesIO:
        """What is read ahead, as gunicorn's own callers read it (`buf.getvalue()`)."""
        return io.BytesIO(self._data[self._at :])

    @buf.setter
    def buf(self, value: io.BytesIO) -> None:
        self._data, self._at = value.getvalue(), 0

    def __len__(self) -> int:
        return len(self._data) - self._at

    def _take(self, size: int) -> bytes:
        data = bytes(memoryview(self._data)[self._at : self._at + size])
        self._at += len(data)
        return data

    def read(self, size: int | None = None, read_ahead: int | None = None) -> bytes:
        if size is not None and not isinstance(size, int):
            raise TypeError("size parameter must be an int or long.")
        if size == 0:
            return b""
        if size is None or size < 0:
            if len(self):
                return self._take(max(read_ahead or 0, self.mxchunk))
            return self.chunk(read_ahead)
        while len(self) < size:
            chunk = self.chunk(max(size, read_ahead or 0) - len(self))
            if not chunk:
                return self._take(len(self))
            self._data, self._at = self._data[self._at :] + chunk, 0
        return self._take(size)

    def unread(self, data: bytes) -> None:
        size = len(data)
        if size <= self._at and self._data.startswith(data, self._at - size):
            self._at -= size  # the tail of what was just read (the parser hands back what follows the headers)
        elif not len(self):
            self._data, self._at = data, 0  # a whole request the loop read: no copy
        else:
            self._data, self._at = bytes(data) + self._data[self._at :], 0

    def take_body(self, size: int) -> HeldBody:
        """The next `size` bytes, as a body over the buffer they are in (no copy), taken off the front."""
        body = HeldBody(self._data, self._at, min(self._at + size, len(self._data)))
        self._at = body.end
        return body

    def take_buffered(self) -> bytes:
        return self._take(len(self))


class HeldBody:
    """gunicorn's request body (`wsgi.input`) over bytes the worker already holds: `data[start:end]`.

    gunicorn's own Body copies a body several times on its way to the app (its reader's buffer, a BytesIO,
    werkzeug's 64 KiB chunks): an 800 KB /v2 batch was copied about six times, in a Python loop. Reads here
    slice the one buffer; `take` hands the whole body out as a read-only memoryview, for a caller that can use
    it as it is.
    """

    failed = False  # gunicorn's parser asks whether reading the body raised (it never does here)

    def __init__(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self.start, self.end = start, len(data) if end is None else end
        self._at = start

    @property
    def length(self) -> int:
        """The bytes not read yet (the whole body until something reads it)."""
        return self.end - self._at

    def take(self) -> memoryview:
        """What is not read yet, as a read-only view of the worker's buffer; read, from then on."""
        view = memoryview(self._data)[self._at : self.end].toreadonly()
        self._at = self.end
        return view

    def _upto(self, size: int | None) -> int:
        return self.end if size is None or size < 0 else min(self._at + size, self.end)

    def read(self, size: int | None = None) -> bytes:
        """Up to `size` bytes (all that is left by default), as gunicorn's Body reads."""
        upto = self._upto(size)
        data = bytes(memoryview(self._data)[self._at : upto])
        self._at = upto
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        """Fill `buffer` with what is left, as far as it goes; the count of bytes put there (werkzeug reads so)."""
        target = memoryview(buffer).cast("B")
        upto = self._upto(len(target))
        count = upto - self._at
        target[:count] = memoryview(self._data)[self._at : upto]
        self._at = upto
        return count

    def readline(self, size: int | None = None) -> bytes:
        """The next line, its newline included, or up to `size` bytes of it."""
        upto = self._upto(size)
        newline = self._data.find(b"\n", self._at, upto)
        return self.read((upto if newline < 0 else newline + 1) - self._at)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """The lines left, or those that reach `hint` bytes."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


def hold_body(req: Request, unreader: Unreader) -> None:
    """Give `req` a `HeldBody` when all of its Content-Length body is already in `unreader` (a `HeldUnreader`):
    the unreader moves past it, and what follows (a pipelined request) stays there for the next parse."""
    reader = getattr(req.body, "reader", None)
    if not isinstance(reader, LengthReader) or not isinstance(unreader, HeldUnreader) or req.body.buf.tell():
        return
    length = reader.length
    if length == 0 or len(unreader) < length:
        return
    req.body = unreader.take_body(length)
    reader.length = 0  # gunicorn's own Body, should anything still hold it, has nothing left to read


class CoalescingResponse(wsgi.Response):
    """gunicorn's HTTP/1 response, with the headers sent in the same write as the first body bytes.

    gunicorn writes the headers and the body with two sendall calls; on loopback and behind a proxy
    each write costs a syscall and wakes the reader. A response that is one bytes object (every JSON
    answer here) goes out in one write.
    """

    headers_sent: bool
    _held: bytes = b""
    _coalesce: bool = True

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        if not self._coalesce:
            super().send_headers()
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._held = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _flush_held(self, data: bytes = b"") -> bytes:
        held, self._held = self._held, b""
        return held + data if held else data

    def _emit_body(self, data: bytes) -> None:
        if self.chunked:
            if self._held:
                self.sock.sendall(self._flush_held())
            super()._emit_body(data)
        else:
            self.sock.sendall(self._flush_held(data))

    def sendfile(self, respiter) -> bool:
        if getattr(self.sock, "inline", False):
            return False  # os.sendfile needs a blocking socket: the body goes through sendall instead
        self._coalesce = False  # os.sendfile writes the body itself: the headers go first, on their own
        return super().sendfile(respiter)

    def write(self, arg: bytes) -> None:
        super().write(arg)
        if self._held:  # a response that may carry no body (HEAD, 204, 304): the headers alone
            self.sock.sendall(self._flush_held())

    def close(self) -> None:
        self.send_headers()
        if self._held:
            self.sock.sendall(self._flush_held())
        super().close()
