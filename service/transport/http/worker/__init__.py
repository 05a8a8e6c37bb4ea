"""The gunicorn worker class (workers.py) with its sockets (sockets.py) and request framing (request_buffer.py).

It relies on gunicorn internals that gunicorn does not document (tests/service/test_gunicorn_internals.py
names each); WORKER_CLASS=gthread runs stock gunicorn instead (docs/performance.md: the worker decision).
"""
