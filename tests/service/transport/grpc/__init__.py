"""Tests of service/transport/grpc/."""
