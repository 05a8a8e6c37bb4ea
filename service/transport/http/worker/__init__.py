"""The gunicorn worker class (workers.py): accept balancing (balancing.py, over the shared connection_table.py) and
an event loop that reads, serves and sheds requests (loop_serving.py), with its sockets (sockets.py) and request
framing (request_buffer.py).

It relies on gunicorn internals that gunicorn does not document (tests/service/transport/http/test_gunicorn_internals.py
names each); WORKER_CLASS=gthread runs stock gunicorn instead (docs/performance.md: the worker decision).
"""
