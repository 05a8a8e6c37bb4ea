"""Peers for `make bench PEERS=1`: KServe's Python model server on the same ONNX MLP, V2 JSON.

KServe is installed from PyPI into its own virtual environment (KSERVE_VENV, default
/tmp/digit-serve-kserve), never into the project's. Third-party servers may probe the network when
they start, so the server and its load generator both run inside `unshare -n`: a network namespace
with only a loopback interface. digit-serve's /v2 JSON row in the same table is the comparison.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.harness import Load, wrk_path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("KSERVE_VENV", "/tmp/digit-serve-kserve"))
PORT = 18080


def _kserve_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "kserve", "onnxruntime==1.32.0"], check=True, timeout=900
        )
    return python


def _inner(seconds: float, connections: int, logging_on: str) -> None:
    """Inside the namespace: start KServe, wait for it, run wrk, print wrk's summary and the server's CPU."""
    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        pixels = np.round(data["images"][0] / 255.0, 4).reshape(784).tolist()
    body = json.dumps({"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "FP32", "data": pixels}]})
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}
    server = subprocess.Popen(
        [
            str(_kserve_python()),
            str(ROOT / "bench" / "kserve_model.py"),
            str(PORT),
            "2",
            logging_on,
            str(ROOT / "models"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/v2/models/mlp/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("KServe did not become ready")
            time.sleep(0.5)
        time.sleep(2)  # every uvicorn worker up
        script = Path("/tmp/kserve-post.lua")
        script.write_text(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{body}]]\n'
        )
        cpu_before = _tree_cpu(server.pid)
        result = subprocess.run(
            [
                wrk_path(),
                "-t2",
                f"-c{connections}",
                f"-d{round(seconds)}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{PORT}/v2/models/mlp/infer",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        print(json.dumps({"wrk": result.stdout, "cpu": _tree_cpu(server.pid) - cpu_before}))
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def _tree_cpu(pid: int) -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid or int(stat.parent.name) == pid or int(fields[3]) == pid:  # ppid or pgid
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def kserve_rows(args) -> list[tuple]:
    """Table rows (scenario, server, Load) for KServe with its access logs on and off."""
    if shutil.which("unshare") is None:
        raise SystemExit("PEERS=1 needs unshare (util-linux) to keep KServe off the network")
    _kserve_python()
    rows = []
    for logging_on in ("on", "off"):
        command = (
            f"ip link set lo up && exec {sys.executable} {ROOT / 'bench' / 'peers.py'} --inner "
            f"{args.seconds} 8 {logging_on}"
        )
        result = subprocess.run(
            ["unshare", "-n", "sh", "-c", command], capture_output=True, text=True, cwd=ROOT, timeout=args.seconds + 240
        )
        if result.returncode != 0:
            raise SystemExit(f"KServe run failed: {result.stderr[-1500:]}")
        found = json.loads(result.stdout.strip().splitlines()[-1])
        text = found["wrk"]
        requests_line = next(line for line in text.splitlines() if "requests in" in line)
        count, seconds = int(requests_line.split()[0]), float(requests_line.split("in ")[1].split("s")[0])
        latency = {
            line.split()[0]: line.split()[1]
            for line in text.splitlines()
            if line.strip().endswith(("ms", "us", "s")) and line.strip().split()[0] in ("50%", "99%")
        }
        errors = sum(int(part) for line in text.splitlines() if "Non-2xx" in line for part in line.split()[-1:])
        load = Load(
            requests=count,
            errors=errors,
            seconds=seconds,
            p50_ms=_ms(latency.get("50%", "0ms")),
            p99_ms=_ms(latency.get("99%", "0ms")),
            server_cpu_s=found["cpu"],
        )
        rows.append(
            (
                "MLP JSON, 1 instance, 8 conn",
                f"KServe {'(access log on)' if logging_on == 'on' else '(logs off)'} V2, 2 workers",
                load,
            )
        )
    return rows


def _ms(value: str) -> float:
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    return float(value)


if __name__ == "__main__" and sys.argv[1:2] == ["--inner"]:
    _inner(float(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
