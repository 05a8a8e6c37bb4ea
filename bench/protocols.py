"""gRPC beside HTTP for `make bench` (part "grpc"): the same server, the same MLP single-instance binary tensor.

wrk speaks no gRPC, so both protocols are driven by the same kind of client: Python threads in a closed
loop, each on its own connection (tritonclient.grpc, and http.client keep-alive for /v2 binary). The
client is the bottleneck here, so the rows compare the protocols, not the server's ceiling.
"""

from __future__ import annotations

import http.client
import threading
import time

import numpy as np

from bench.harness import Load, process_cpu, v2_binary_request
from support.server import unused_port


def _closed_loop(call, clients: int, seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client() -> None:
        own = call()
        mine = []
        while time.monotonic() < deadline:
            started = time.perf_counter()
            own()
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return len(latencies), sorted(latencies)


def _load(server, count: int, latencies: list[float], seconds: float, cpu_before: float) -> Load:
    cpu_after, _ = process_cpu(server)
    return Load(
        requests=count,
        errors=0,
        seconds=seconds,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[int(len(latencies) * 0.99)],
        server_cpu_s=cpu_after - cpu_before,
    )


def grpc_rows(args, service) -> list[tuple]:
    import tritonclient.grpc as grpcclient

    port = unused_port()  # grpc cannot adopt a bound socket
    pixels = np.zeros((1, 784), dtype=np.float32)
    rows = []
    with service({"GRPC_PORT": str(port)}) as server:
        with grpcclient.InferenceServerClient(f"127.0.0.1:{port}") as probe:
            deadline = time.monotonic() + 30
            while not _ready(probe):
                assert time.monotonic() < deadline, "the gRPC server did not start"
                time.sleep(0.2)

        def grpc_call():
            client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
            tensor = grpcclient.InferInput("pixels", [1, 784], "FP32")
            tensor.set_data_from_numpy(pixels)
            return lambda: client.infer("mlp", [tensor]).as_numpy("probabilities")

        body, headers = v2_binary_request(pixels)
        host, http_port = server.url.removeprefix("http://").rsplit(":", 1)

        def http_call():
            connection = http.client.HTTPConnection(host, int(http_port), timeout=10)

            def once():
                connection.request("POST", "/v2/models/mlp/infer", body, headers)
                connection.getresponse().read()

            return once

        for label, call in (
            ("gRPC ModelInfer (tritonclient.grpc)", grpc_call),
            ("HTTP /v2 binary (http.client)", http_call),
        ):
            cpu_before, _ = process_cpu(server)
            count, latencies = _closed_loop(call, 8, args.seconds)
            rows.append(
                (
                    "MLP 1 instance, 8 Python clients",
                    f"digit-serve {label}",
                    _load(server, count, latencies, args.seconds, cpu_before),
                )
            )
    return rows


def _ready(client) -> bool:
    try:
        return client.is_server_ready()
    except Exception:  # noqa: BLE001 - not listening yet
        return False
