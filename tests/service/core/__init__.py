"""Tests of service/core/: the runtime, without a transport."""
