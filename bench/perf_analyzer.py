"""Triton's perf_analyzer beside wrk in `make bench` (part "perf"), or alone:

    python -m bench.perf_analyzer [--seconds 5] [--connections 8,32]

perf_analyzer is Triton's own load generator, written by others and independent of wrk: one C++ client
that speaks both protocols, so the HTTP and gRPC rows compare the protocols with the same client and
the same concurrency. How it is set up and why it is given what it is given: support/perf_analyzer.py.
"""

from __future__ import annotations

import argparse
import time

from bench.harness import Load, Row, process_cpu, render, service
from support.perf_analyzer import install, measure
from support.server import unused_port


def perf_rows(args, service) -> list[tuple]:
    """(scenario, server, Load) rows for bench/run.py: MLP, one instance, binary tensors, HTTP and gRPC."""
    port = unused_port()
    rows = []
    with service({"GRPC_PORT": str(port)}) as served:
        http_address = served.url.removeprefix("http://")
        version = max(int(v) for v in _versions(served.url, "mlp"))
        for concurrency in args.connections:
            runs = (
                ("http", http_address, None, "/v2 binary over HTTP"),
                ("grpc", f"127.0.0.1:{port}", None, "ModelInfer over gRPC"),
                ("grpc", f"127.0.0.1:{port}", 1, "ModelInfer over gRPC, a connection per client"),
            )
            for protocol, address, channel_share, label in runs:
                cpu_before, _ = process_cpu(served)
                started = time.monotonic()
                found = measure(
                    address, protocol, "mlp", version, concurrency, min(args.seconds, 5), channel_share=channel_share
                )
                wall = time.monotonic() - started
                cpu_after, _ = process_cpu(served)
                # perf_analyzer reports a rate over its stable windows; CPU per request assumes that rate held
                # for the whole run (its warm-up windows included), so it is approximate
                load = Load(
                    requests=round(found.per_second * wall),
                    errors=0,
                    seconds=wall,
                    p50_ms=found.p50_ms,
                    p99_ms=found.p99_ms,
                    server_cpu_s=cpu_after - cpu_before,
                )
                rows.append((f"MLP 1 instance, perf_analyzer, concurrency {concurrency}", f"digit-serve {label}", load))
    return rows


def _versions(url: str, model: str) -> list[str]:
    import requests

    return requests.get(f"{url}/v2/models/{model}", timeout=10).json()["versions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=lambda v: [int(c) for c in v.split(",")], default=[8, 32])
    args = parser.parse_args()
    install()
    print(render([Row(*row) for row in perf_rows(args, service)], [], args))


if __name__ == "__main__":
    main()
