"""How a response reaches the client's socket: one write for headers and body, and writes that never block.

`CoalescingResponse` is gunicorn's HTTP/1 response with the headers held back until the first body bytes, so
that a response that is one bytes object goes out in one write (gunicorn writes headers and body with two).

`LoopSocket` wraps every HTTP/1 client socket of a `BalancedThreadWorker`. In a request thread it is the
socket, blocking. While the worker's event loop runs a request itself (`inline`, see service/workers.py),
it is non-blocking: `sendall` sends what the kernel takes and keeps the rest in `pending`, which the loop
flushes when the socket becomes writable. A client that does not read its responses then holds memory
(one response), never the loop.
"""

from __future__ import annotations

import socket

from gunicorn.http import wsgi


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

    def flush(self) -> bool:
        """Send what is pending: True once nothing is left. OSError when the client is gone."""
        while self.pending:
            try:
                sent = self._sock.send(self.pending)
            except (BlockingIOError, InterruptedError):
                return False
            del self.pending[:sent]
        return True


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
