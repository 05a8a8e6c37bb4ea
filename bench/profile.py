"""Where a request's CPU time goes: py-spy samples one digit-serve worker under wrk load (`make profile`).

    python -m bench.profile [--seconds 8] [--connections 8] [--scenario json|png]

Each sample's stack is charged to the innermost frame that belongs to a known stage (HTTP parsing,
Flask dispatch, JSON decoding, validation, onnxruntime, ...); the shares, times the CPU time per
request measured in the same run, give microseconds per request. Needs py-spy (requirements/dev.txt)
and permission to trace the worker (root, or ptrace_scope 0). Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.harness import ROOT, gunicorn, v2_binary_request, wrk

# (stage, substrings of "function (file" that mark it), checked from the leaf of each stack towards its root.
STAGES = [
    ("onnxruntime session run", ["Session.run (", "ModelVersion.run ("]),
    ("JSON decoding (orjson)", ["parse_json ("]),
    ("validation and numpy conversion", ["image_batch (", "number_batch (", "numeric_array ("]),
    ("image decoding and MNIST preprocessing", ["service/reading/"]),
    ("response building and JSON encoding", ["classification_predictions (", "json_response ("]),
    ("metrics (prometheus_client)", ["prometheus_client/", "service/core/statistics.py"]),
    ("access log (one write)", ["AccessLog.write ("]),
    ("request hooks (id, key, headers)", ["service/transport/http/hooks.py", "service/transport/http/security.py"]),
    ("serving-state check", ["ModelRegistry.sync ("]),
    ("request id and timing", ["start_request (", "finish_request ("]),
    ("socket write (headers + body)", ["CoalescingResponse._emit_body (", "CoalescingResponse.write (", "sendall"]),
    ("HTTP parsing (gunicorn)", ["gunicorn/http/"]),
    ("Flask and werkzeug dispatch", ["flask/", "werkzeug/"]),
    (
        "view and data plane glue",
        ["service/transport/http/api/", "service/core/dataplane.py", "service/core/digits.py"],
    ),
    (
        "thread hand-off and event loop (gthread)",
        ["gunicorn/workers/", "concurrent/futures", "selectors.py", "service/transport/http/worker/", "threading.py"],
    ),
]


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                return stage
    return "other"


def breakdown(raw: Path) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():  # py-spy wraps a few very long stacks over lines: those are skipped
            counts[stage_of(stack.split(";"))] += int(count)
    return counts


def data_images(count: int) -> np.ndarray:
    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        return data["images"][:count]


def _body(scenario: str) -> tuple[bytes, dict[str, str]]:
    digit = data_images(1)[0]
    if scenario == "v2batch":
        batch = (data_images(256) / 255.0).reshape(256, 784).astype(np.float32)
        return v2_binary_request(batch)
    if scenario == "png":
        buffer = io.BytesIO()
        Image.fromarray(255 - digit).save(buffer, "PNG")
        return buffer.getvalue(), {"Content-Type": "image/png"}
    pixels = np.round(digit / 255.0, 4).reshape(784).tolist()
    return json.dumps({"model": "mlp", "inputs": [pixels]}).encode(), {"Content-Type": "application/json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--scenario", choices=("json", "png", "v2batch"), default="json")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server, e.g. THREADS=1")
    args = parser.parse_args()
    body, headers = _body(args.scenario)
    env = dict(setting.split("=", 1) for setting in args.env)
    py_spy = Path(sys.executable).parent / "py-spy"
    with (
        tempfile.TemporaryDirectory() as tmp,
        gunicorn(
            "digit-serve",
            ["-c", "service/transport/http/gunicorn.conf.py"],
            {"LOG_LEVEL": "info", **env},
            workers=int(env.get("WORKERS", 2)),
            log_dir=Path(tmp),
        ) as server,
    ):
        worker = server.worker_pids()[0]
        raw = Path(tmp) / "profile.txt"
        spy = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(worker),
                "--duration",
                str(args.seconds),
                "--rate",
                "500",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        path = "/v2/models/mlp/infer" if args.scenario == "v2batch" else "/predict"
        load = wrk(server, path, body, headers, args.seconds + 1, args.connections)
        _, errors = spy.communicate(timeout=60)
        if spy.returncode != 0 or not raw.exists():
            raise SystemExit(f"py-spy failed ({spy.returncode}): {errors.strip()[-500:]}")
        counts = breakdown(raw)
        if os.environ.get("PROFILE_KEEP"):
            shutil.copy(raw, os.environ["PROFILE_KEEP"])
    total = sum(counts.values())
    per_request_us = load.cpu_ms_per_request * 1000
    print(
        f"{args.scenario} {path}, {args.connections} connections: {load.rps:,.0f} req/s, "
        f"{per_request_us:.0f} us of server CPU per request (master and both workers), {total} samples of one "
        "worker's active threads\n"
    )
    print("| stage | share | us per request |\n|---|---|---|")
    for stage, count in counts.most_common():
        print(f"| {stage} | {100 * count / total:.1f} % | {per_request_us * count / total:.0f} |")


if __name__ == "__main__":
    main()
