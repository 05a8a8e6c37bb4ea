"""Tests of service/transport/http/."""
