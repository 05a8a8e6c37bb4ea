"""A short soak in make test (make soak runs the full minute): mixed traffic, no failure, memory flat."""

import pytest

from support.soak import run

pytestmark = pytest.mark.slow


def test_a_short_soak_has_no_failed_request_and_flat_memory(tmp_path):
    passed, report = run(seconds=10, clients=32, log_dir=tmp_path)
    print("\n" + report)
    assert passed, report
