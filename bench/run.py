"""Throughput and latency of the service beside this machine's limits, all on 127.0.0.1.

    python bench/run.py [--seconds 10] [--connections 16] [--workers 2] [--threads 2]

Needs `wrk` (Debian package). Starts each server with gunicorn on a free loopback port, drives it
with wrk for a bounded time, stops it, and prints a Markdown table:
  - bare:   Flask + gunicorn parsing a 784-float JSON body, no model (the HTTP + JSON ceiling)
  - the service: /predict with MLP JSON, /v2 infer with binary tensors, /predict with a PNG for the CNN
  - raw onnxruntime per sample, in process (the model's own cost)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # this process and every server it starts

from tests.server import spawn_gunicorn, stop  # noqa: E402


def start(app: str, workers: int, threads: int, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    environ = {
        **os.environ,
        "HOST": "127.0.0.1",
        "WORKERS": str(workers),
        "THREADS": str(threads),
        "LOG_LEVEL": "warning",
        **(env or {}),
    }
    if app == "bare":
        args = [
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-k",
            "gthread",
            "--chdir",
            str(ROOT / "bench"),
            "bare_app:app",
        ]
    else:
        args = ["-c", "service/gunicorn.conf.py"]
    process, url = spawn_gunicorn(args, environ, Path(os.devnull))
    import requests

    for _ in range(200):
        try:
            requests.get(url + ("/readyz" if app != "bare" else "/"), timeout=1)
            time.sleep(1.0)  # let every worker finish booting
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{app} did not start")


def wrk(url: str, path: str, body: bytes, headers: dict[str, str], seconds: int, connections: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "post.lua"
        lines = [
            'wrk.method = "POST"',
            f'local f = io.open("{body_file}", "rb")',
            "wrk.body = f:read('*all')",
            "f:close()",
        ] + [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        lines.append(
            "done = function(summary, latency, requests)\n"
            '  io.write(string.format("JSON {\\"requests\\": %d, \\"errors\\": %d, \\"p50\\": %d, '
            '\\"p99\\": %d}\\n", summary.requests, summary.errors.status + summary.errors.connect + '
            "summary.errors.read + summary.errors.write + summary.errors.timeout, "
            "latency:percentile(50), latency:percentile(99)))\nend"
        )
        script.write_text("\n".join(lines))
        result = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url + path],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
    stats = json.loads(re.search(r"^JSON (.*)$", result.stdout, re.M).group(1))
    stats["rps"] = stats["requests"] / seconds
    return stats


def raw_onnxruntime(name: str, runs: int = 2000) -> float:
    """Microseconds per single-sample inference, one thread."""
    from service.model import load_version

    model = load_version(ROOT / "models" / name / "1", ["CPUExecutionProvider"], 1)
    feeds = {model.input.name: np.zeros([1, *model.input.shape[1:]], dtype=np.float32)}
    for _ in range(100):
        model.run(feeds)
    started = time.perf_counter()
    for _ in range(runs):
        model.run(feeds)
    return (time.perf_counter() - started) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        digit = data["images"][0]
    pixels = np.round(digit / 255.0, 4).reshape(784).tolist()
    json_body = json.dumps({"model": "mlp", "inputs": [pixels]}).encode()
    raw = (digit / 255.0).astype(np.float32).reshape(1, 784)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [1, 784],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": raw.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    from PIL import Image

    png = io.BytesIO()
    Image.fromarray(digit).save(png, "PNG")

    rows = []
    process, url = start("bare", args.workers, args.threads)
    try:
        bare = wrk(url, "/predict", json_body, {"Content-Type": "application/json"}, args.seconds, args.connections)
    finally:
        stop(process)
    rows.append(("bare Flask + gunicorn, parse 784-float JSON", bare))
    process, url = start("service", args.workers, args.threads)
    try:
        rows.append(
            (
                "POST /predict, MLP, 784-float JSON",
                wrk(url, "/predict", json_body, {"Content-Type": "application/json"}, args.seconds, args.connections),
            )
        )
        rows.append(
            (
                "POST /v2/models/mlp/infer, binary tensor",
                wrk(
                    url,
                    "/v2/models/mlp/infer",
                    header + raw.tobytes(),
                    {"Inference-Header-Content-Length": str(len(header))},
                    args.seconds,
                    args.connections,
                ),
            )
        )
        rows.append(
            (
                "POST /predict, CNN, 28x28 PNG body",
                wrk(url, "/predict", png.getvalue(), {"Content-Type": "image/png"}, args.seconds, args.connections),
            )
        )
    finally:
        stop(process)

    print(
        f"\n{os.cpu_count()} cores, gunicorn {args.workers} workers x {args.threads} threads, "
        f"wrk 2 threads x {args.connections} connections, {args.seconds} s each, 127.0.0.1\n"
    )
    print("| scenario | requests/s | vs bare | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, stats in rows:
        print(
            f"| {name} | {stats['rps']:.0f} | {stats['rps'] / bare['rps']:.2f} | {stats['p50'] / 1000:.2f} | "
            f"{stats['p99'] / 1000:.2f} | {stats['errors']} |"
        )
    print("\n| raw onnxruntime, 1 sample, 1 thread | us per inference |\n|---|---|")
    for name in ("mlp", "cnn"):
        print(f"| {name} | {raw_onnxruntime(name):.0f} |")


if __name__ == "__main__":
    main()
