"""The transports: HTTP (Flask under gunicorn, service/transport/http) and gRPC (service/transport/grpc).

Each parses its wire format, calls the runtime (service/bootstrap.py) and formats the answer; they are the
only part of the service that imports Flask, werkzeug, gunicorn or grpc.
"""
