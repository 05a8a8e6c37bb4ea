"""The GPU check: digit-serve with DEVICE=cuda answers as on the CPU, and what batch size and batching do there.

    python -m bench.gpu_check [--device cuda] [--seconds 10] [--clients 16]

Run by bench/gpu_check.sh, which prepares the environment. Starts the service twice on loopback
(DEVICE=cpu, then --device), sends the same 1,000 MNIST test images to both over /v2 with binary
tensors and requires every probability within 1e-4 and the same predicted digit; then drives the
--device server with --clients keep-alive clients sending binary batches of 1, 64 and 1024 rows, with
and without adaptive batching, and prints samples/s and latency. Needs no wrk (a GPU machine may have
no package registry): the load comes from Python threads. Bounded in time; loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time

import numpy as np

from bench.harness import ROOT, gunicorn, v2_binary_request

TOLERANCE = 1e-4
BATCH_SIZES = (1, 64, 1024)


def _infer(connection: http.client.HTTPConnection, model: str, batch: np.ndarray) -> np.ndarray:
    body, headers = v2_binary_request(batch)
    connection.request("POST", f"/v2/models/{model}/infer", body, headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{model}: {response.status} {data[:300]!r}")
    length = int(response.getheader("Inference-Header-Content-Length"))
    return np.frombuffer(data[length:], dtype="<f4").reshape(len(batch), 10)


def _connect(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=60)


def _inputs(model: str, images: np.ndarray) -> np.ndarray:
    pixels = (images / 255.0).astype(np.float32)
    return pixels.reshape(len(images), 784) if model == "mlp" else pixels.reshape(len(images), 28, 28, 1)


def answers(url: str, images: np.ndarray) -> dict[str, np.ndarray]:
    connection = _connect(url)
    try:
        return {
            model: np.concatenate(
                [_infer(connection, model, _inputs(model, images[i : i + 100])) for i in range(0, len(images), 100)]
            )
            for model in ("mlp", "cnn")
        }
    finally:
        connection.close()


def load(url: str, model: str, batch: np.ndarray, clients: int, seconds: float) -> dict[str, float]:
    """`clients` keep-alive connections sending `batch` in a closed loop for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        connection = _connect(url)
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                _infer(connection, model, batch)
                latencies.append(time.perf_counter() - started)
        except (OSError, RuntimeError) as exc:
            errors.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed, first: {errors[0]}")
    ordered = np.sort(latencies)
    return {
        "samples_per_s": len(latencies) * len(batch) / elapsed,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[int(len(ordered) * 0.99)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu", "auto"))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        images = data["images"]
    common = {
        "MODEL_DIR": str(ROOT / "models"),
        "MAX_INSTANCES": "1024",
        "LOG_LEVEL": "warning",
        "WORKERS": str(args.workers),
        "THREADS": str(max(2, args.clients // args.workers)),
    }
    with gunicorn(
        "cpu", ["-c", "service/transport/http/gunicorn.conf.py"], {**common, "DEVICE": "cpu"}, workers=args.workers
    ) as server:
        on_cpu = answers(server.url, images)
    results = []
    for batching in ("", "mlp=256/2,cnn=256/2"):
        env = {**common, "DEVICE": args.device, "BATCHING": batching}
        with gunicorn(
            f"{args.device}-{'batching' if batching else 'direct'}",
            ["-c", "service/transport/http/gunicorn.conf.py"],
            env,
            workers=args.workers,
        ) as server:
            if not batching:
                on_device = answers(server.url, images)
                for model in on_cpu:
                    diff = float(np.abs(on_cpu[model] - on_device[model]).max())
                    same = bool((on_cpu[model].argmax(1) == on_device[model].argmax(1)).all())
                    print(
                        f"{model}: DEVICE={args.device} vs cpu on 1,000 images: max |diff| {diff:.2e}, "
                        f"same digits: {same}"
                    )
                    if diff > TOLERANCE or not same:
                        print(f"FAIL: {model} differs beyond {TOLERANCE}", file=sys.stderr)
                        return 1
                provider = json.loads(_get(server.url, "/models/mlp"))["provider"]
                print(f"provider: {provider}")
            for model in ("mlp", "cnn"):
                for size in BATCH_SIZES:
                    batch = _inputs(model, images[np.arange(size) % len(images)])
                    stats = load(server.url, model, batch, args.clients, args.seconds)
                    results.append((model, size, batching or "off", stats))
    print(
        f"\nDEVICE={args.device}, {args.workers} workers, {args.clients} keep-alive clients, "
        f"{args.seconds:g} s per row, /v2 binary tensors\n"
    )
    print("| model | rows per request | adaptive batching | samples/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|")
    for model, size, batching, stats in results:
        print(
            f"| {model} | {size} | {batching} | {stats['samples_per_s']:,.0f} | {stats['p50_ms']:.2f} | "
            f"{stats['p99_ms']:.2f} |"
        )
    return 0


def _get(url: str, path: str) -> bytes:
    connection = _connect(url)
    try:
        connection.request("GET", path)
        return connection.getresponse().read()
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
