"""Triton's perf_analyzer, unmodified, against the real server over HTTP and gRPC: a few seconds each.

It calls ServerMetadata, ModelMetadata, ModelConfig and ModelStatistics before and after its load, and
refuses a server that gets any of them wrong; each run must exit 0 having counted only successes. The
binary is set up in .venv-perf/ the first time (support/perf_analyzer.py: a wheel from PyPI, Debian's
libb64-0d); where that cannot be done the tests are skipped, loudly, as the browser tests are.
"""

import re

import pytest

from support import perf_analyzer
from tests.fixtures import NEWEST

pytestmark = pytest.mark.slow


@pytest.fixture
def served(request):
    try:
        perf_analyzer.install()
    except (Exception, SystemExit) as problem:  # noqa: BLE001 - pip, apt or the binary itself
        message = f"NO PERF_ANALYZER: these tests did NOT run: {problem}"
        print(f"\n{'!' * 20} {message} {'!' * 20}")
        pytest.skip(message)
    server = request.getfixturevalue("protocol_server")  # decided to skip before starting anything
    return {"http": server.url.removeprefix("http://"), "grpc": server.grpc_target}, server.server


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_perf_analyzer_runs_to_the_end_with_server_side_statistics(served, protocol):
    addresses, server = served
    done = perf_analyzer.check(addresses[protocol], protocol, "mlp", NEWEST["mlp"])
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "error" not in output.lower(), output[-3000:]
    throughput = re.search(r"Throughput: ([0-9.]+) infer/sec", output)
    assert throughput and float(throughput.group(1)) > 0, output[-3000:]
    # the server's own counters, read through ModelStatistics / the statistics endpoint
    assert re.search(r"Successful request count: [1-9]", output), output[-3000:]
    assert re.search(r"compute infer [1-9][0-9]* usec", output), output[-3000:]
    assert "Traceback" not in server.log()
