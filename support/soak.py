"""Soak: mixed traffic at 32 concurrent clients against the real server, `make soak` (SOAK_SECONDS=60).

    python -m support.soak [--seconds 60] [--clients 32]

JSON to all three models, PNG and JPEG uploads to both classifiers, and /v2 binary tensors, each client on
a keep-alive connection, for a bounded time, on loopback. Passes when no valid request failed and no
worker's resident memory grew by 10 % or more between the end of warm-up (a tenth of the run, at least
3 s) and the end. Prints requests/s, p50/p99 per kind, and memory per worker.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from support.server import ROOT, gunicorn, rss_mb, v2_binary_request


def _requests() -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """Every kind of request the soak sends: (path, body, headers)."""
    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        images = data["images"][:8]
    pixels = np.round(images / 255.0, 4)
    as_json = {"Content-Type": "application/json"}

    def encoded(fmt: str) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(255 - images[1]).resize((112, 112)).convert("RGB").save(buffer, fmt)
        return buffer.getvalue()

    return {
        "json mlp": (
            "/predict",
            json.dumps({"model": "mlp", "inputs": pixels.reshape(8, 784).tolist()}).encode(),
            as_json,
        ),
        "json cnn": ("/predict", json.dumps({"model": "cnn", "inputs": pixels[:2].tolist()}).encode(), as_json),
        "json linear": ("/predict", json.dumps({"model": "linear", "inputs": [1.5, 2.5]}).encode(), as_json),
        "png cnn": ("/predict?model=cnn", encoded("PNG"), {"Content-Type": "image/png"}),
        "jpeg mlp": ("/predict?model=mlp", encoded("JPEG"), {"Content-Type": "image/jpeg"}),
        "v2 binary mlp": ("/v2/models/mlp/infer", *v2_binary_request(pixels.reshape(8, 784).astype(np.float32))),
    }


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(port: int, kinds: dict, deadline: float, tally: Tally, seed: int) -> None:
    chooser = random.Random(seed)
    names = sorted(kinds)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        name = chooser.choice(names)
        path, body, headers = kinds[name]
        started = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            outcome = None if response.status == 200 else f"{name}: {response.status}"
        except OSError as exc:
            outcome = f"{name}: {type(exc).__name__}"
            connection.close()
        with tally.lock:
            if outcome:
                tally.failures.append(outcome)
            else:
                tally.latencies.setdefault(name, []).append(time.perf_counter() - started)
    connection.close()


def run(seconds: float, clients: int, log_dir: Path | None = None) -> tuple[bool, str]:
    """Soak a fresh server; returns whether it passed and the report."""
    kinds = _requests()
    tally = Tally()
    warm_up = max(3.0, seconds / 10)
    with gunicorn(
        "soak", ["-c", "service/transport/http/gunicorn.conf.py"], {"LOG_LEVEL": "warning"}, log_dir=log_dir
    ) as server:
        port = int(server.url.rsplit(":", 1)[1])
        started = time.monotonic()
        deadline = started + seconds
        threads = [
            threading.Thread(target=_client, args=(port, kinds, deadline, tally, seed)) for seed in range(clients)
        ]
        for thread in threads:
            thread.start()
        time.sleep(warm_up)
        warm = {pid: rss_mb(pid) for pid in server.worker_pids()}
        for thread in threads:
            thread.join(seconds + 60)
        elapsed = time.monotonic() - started
        end = {pid: rss_mb(pid) for pid in server.worker_pids()}
    total = sum(len(values) for values in tally.latencies.values())
    growth = max((end[pid] - warm[pid]) / warm[pid] for pid in warm if pid in end)
    lines = [
        f"soak: {seconds:g} s, {clients} clients, {total:,} requests ({total / elapsed:,.0f}/s), "
        f"{len(tally.failures)} failed",
        "",
        "| kind | requests | p50 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for name in sorted(tally.latencies):
        ordered = sorted(tally.latencies[name])
        lines.append(
            f"| {name} | {len(ordered):,} | {1000 * ordered[len(ordered) // 2]:.1f} | "
            f"{1000 * ordered[int(len(ordered) * 0.99)]:.1f} |"
        )
    lines.append("")
    lines.append(
        "RSS per worker after warm-up -> end: "
        + ", ".join(f"{warm[pid]:.0f} -> {end.get(pid, 0):.0f} MB" for pid in warm)
        + f" (largest growth {100 * growth:+.1f} %)"
    )
    if tally.failures:
        lines.append(f"failures (first 10): {tally.failures[:10]}")
    return not tally.failures and growth < 0.10 and total > 0, "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    passed, report = run(args.seconds, args.clients)
    print(report)
    print("PASSED" if passed else "FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
