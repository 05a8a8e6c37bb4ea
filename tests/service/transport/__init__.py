"""Tests of service/transport/: HTTP (Flask, gunicorn, the workers) and gRPC."""
