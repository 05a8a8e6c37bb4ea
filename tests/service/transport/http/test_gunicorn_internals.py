"""The parts of gunicorn that service/transport/http/worker/workers.py and .../worker/sockets.py rely on beyond its
public settings.

They are gunicorn's own classes and methods, some private. pyproject.toml bounds gunicorn to the versions
this suite has run; this test names what an upgrade removed or changed, so that the failure says where to
look instead of surfacing as a hung connection or a lost response.
"""

import inspect

import gunicorn
import pytest
from gunicorn.http import wsgi
from gunicorn.http.unreader import SocketUnreader, Unreader
from gunicorn.workers import gthread
from packaging.version import Version

from service.transport.http.worker.sockets import CoalescingResponse, HeldUnreader
from service.transport.http.worker.workers import BalancedThreadWorker

TESTED = (Version("27.0.1"), Version("28"))  # [lowest run, first not allowed): pyproject.toml says the same

# (owner, name, the parameters after self that the code here passes or overrides with)
METHODS = [
    (gthread.ThreadWorker, "enqueue_req", ["conn"]),
    (gthread.ThreadWorker, "finish_request", ["conn", "fs"]),
    (gthread.ThreadWorker, "handle", ["conn"]),
    (gthread.ThreadWorker, "handle_request", ["req", "conn"]),
    (gthread.ThreadWorker, "set_accept_enabled", ["enabled"]),
    (gthread.ThreadWorker, "accept", ["listener"]),
    (gthread.ThreadWorker, "wait_for_and_dispatch_events", ["timeout"]),
    (gthread.ThreadWorker, "init_process", []),
    (gthread.ThreadWorker, "run", []),
    (gthread.ThreadWorker, "notify", []),
    (gthread.TConn, "init", []),
    (gthread.TConn, "close", ["graceful"]),
    (gthread.PollableMethodQueue, "defer", ["callback", "args"]),
    (wsgi.Response, "send_headers", []),
    (wsgi.Response, "default_headers", []),
    (wsgi.Response, "_emit_body", ["data"]),
    (wsgi.Response, "sendfile", ["respiter"]),
    (wsgi.Response, "write", ["arg"]),
    (wsgi.Response, "close", []),
    (Unreader, "read", ["size", "read_ahead"]),
    (Unreader, "unread", ["data"]),
    (Unreader, "take_buffered", []),
    (SocketUnreader, "chunk", ["size_hint"]),
]

# Attributes set in __init__ or init_process that the code here reads or writes.
ATTRIBUTES = {
    "ThreadWorker": ["_accepting", "nr_conns", "poller", "method_queue", "worker_connections", "tpool"],
    "TConn": ["sock", "parser", "initialized", "data_ready", "is_http2"],
    "SocketUnreader": ["buf", "mxchunk", "sock"],
}


def test_gunicorn_is_a_version_this_suite_has_run():
    found = Version(gunicorn.__version__)
    assert TESTED[0] <= found < TESTED[1], (
        f"gunicorn {found} is outside {TESTED[0]} to <{TESTED[1]}: run this suite against it, then widen "
        "the bound here and in pyproject.toml"
    )


@pytest.mark.parametrize(("owner", "name", "parameters"), METHODS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_each_method_relied_on_exists_with_its_parameters(owner, name, parameters):
    method = getattr(owner, name, None)
    assert callable(method), (
        f"gunicorn {gunicorn.__version__} has no {owner.__name__}.{name}: see service/transport/http/worker/workers.py"
    )
    found = [p for p in inspect.signature(method).parameters if p != "self"]
    assert found == parameters, (
        f"{owner.__name__}.{name}{tuple(found)} changed; service/transport/http/worker/workers.py expects {parameters}"
    )


def test_each_attribute_relied_on_is_set_by_gunicorn():
    import socket

    from gunicorn.config import Config

    left, right = socket.socketpair()
    conn = gthread.TConn(Config(), left, ("127.0.0.1", 1), ("127.0.0.1", 2))
    worker_source = inspect.getsource(gthread.ThreadWorker.__init__) + inspect.getsource(
        gthread.ThreadWorker.init_process
    )
    found = {
        "ThreadWorker": [name for name in ATTRIBUTES["ThreadWorker"] if f"self.{name} =" in worker_source],
        "TConn": [name for name in ATTRIBUTES["TConn"] if hasattr(conn, name)],
        "SocketUnreader": [name for name in ATTRIBUTES["SocketUnreader"] if hasattr(SocketUnreader(left), name)],
    }
    left.close()
    right.close()
    assert found == ATTRIBUTES


def test_gthread_checks_for_read_ahead_bytes_the_way_held_unreader_answers():
    """finish_request looks at `conn.parser.unreader.buf.getvalue()` for a pipelined request already read."""
    assert "unreader.buf.getvalue()" in inspect.getsource(gthread.ThreadWorker.finish_request)
    assert issubclass(HeldUnreader, SocketUnreader) and issubclass(CoalescingResponse, wsgi.Response)
    assert issubclass(BalancedThreadWorker, gthread.ThreadWorker)


def test_gunicorns_error_answers_go_through_the_writer_use_json_errors_replaces():
    """Worker.handle_error writes 400, 414 and 431 with `util.write_error(client, status_int, reason, mesg)`, looked
    up on the module at each call, so replacing the module's function (errors.use_json_errors) reaches every worker;
    the replacement writes with `util.write_nonblock(sock, data)`."""
    import gunicorn.util
    from gunicorn.workers import base

    from service.transport.http.worker.errors import write_json_error

    assert "util.write_error(client, status_int, reason, mesg)" in inspect.getsource(base.Worker.handle_error)
    assert list(inspect.signature(gunicorn.util.write_error).parameters) == list(
        inspect.signature(write_json_error).parameters
    )
    assert list(inspect.signature(gunicorn.util.write_nonblock).parameters)[:2] == ["sock", "data"]


def test_a_request_body_is_what_hold_body_replaces():
    """hold_body swaps a Content-Length body (Body over a LengthReader, with its `buf` and the reader's `length`)
    for a HeldBody; gunicorn drains what is left with `body.read(1024)` and asks `body.failed`."""
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.parser import Parser

    body = Body(LengthReader(None, 10))
    assert body.reader.length == 10 and body.buf.tell() == 0
    drain = inspect.getsource(Parser.finish_body)
    assert "self.mesg.body.read(" in drain and '"failed"' in drain
    environ = inspect.getsource(wsgi.default_environ)
    assert '"wsgi.input": req.body' in environ and "wsgi.input_terminated" in inspect.getsource(wsgi.base_environ)
