"""Servers and load for the benchmarks: start gunicorn on loopback, drive it with wrk, read its CPU per process.

Everything talks to 127.0.0.1 only, every run is bounded in time, and every server is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

from support.server import Server, gunicorn, rss_mb, v2_binary_request  # noqa: F401 - gunicorn etc. for bench/

ROOT = Path(__file__).resolve().parent.parent

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Load:
    """What one wrk run measured, with the server's CPU time over the same span."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    worker_cpu_s: dict[int, float] = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / max(self.requests, 1)

    @property
    def busiest_share(self) -> float:
        """The busiest worker's share of the workers' CPU time: 0.5 is perfectly even for two workers."""
        total = sum(self.worker_cpu_s.values())
        return max(self.worker_cpu_s.values()) / total if total else 0.0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def process_cpu(server: Server) -> tuple[float, dict[int, float]]:
    workers = {pid: _cpu_seconds(pid) for pid in server.worker_pids()}
    return _cpu_seconds(server.process.pid) + sum(workers.values()), workers


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench needs wrk: apt-get install wrk (make bench installs it where it can)")
    return found


_SCRIPT = """
wrk.method = "POST"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
{headers}
local non2xx = 0
response = function(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("JSON {{\\"requests\\": %d, \\"errors\\": %d, \\"p50\\": %d, \\"p99\\": %d, \\"us\\": %d}}\\n",
    summary.requests, e.connect + e.read + e.write + e.timeout + e.status, latency:percentile(50),
    latency:percentile(99), summary.duration))
end
"""


def wrk(
    server: Server, path: str, body: bytes, headers: dict[str, str], seconds: float, connections: int, threads: int = 1
) -> Load:
    """POST `body` to `path` over `connections` keep-alive connections for `seconds`."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "post.lua"
        header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
        script.write_text(_SCRIPT.format(body=body_file, headers=header_lines))
        cpu_before, workers_before = process_cpu(server)
        result = subprocess.run(
            [
                wrk_path(),
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                server.url + path,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        cpu_after, workers_after = process_cpu(server)
    found = re.search(r"^JSON (.*)$", result.stdout, re.M)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    stats = json.loads(found.group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return Load(
        requests=stats["requests"],
        errors=stats["errors"],
        seconds=stats["us"] / 1e6,
        p50_ms=stats["p50"] / 1000,
        p99_ms=stats["p99"] / 1000,
        server_cpu_s=cpu_after - cpu_before,
        worker_cpu_s={pid: workers_after[pid] - workers_before.get(pid, 0.0) for pid in workers_after},
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def post(server: Server, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    response = requests.post(server.url + path, data=body, headers=headers, timeout=30)
    response.raise_for_status()
    return response


@dataclass
class Row:
    scenario: str
    server: str
    load: Load
    samples_per_request: int = 1
    references: dict[str, Load] | None = None  # name -> that reference's best run in the same scenario


TREE = ROOT  # the checkout of digit-serve to serve (its code and models): this one, unless bench.run --tree


def use_tree(tree: Path) -> None:
    """Serve digit-serve from another checkout (bench.run --tree) instead of this one."""
    global TREE
    TREE = tree


def service(env: dict[str, str] | None = None, log_dir: Path | None = None):
    other = {} if TREE == ROOT else {"PYTHONPATH": str(TREE), "MODEL_DIR": str(TREE / "models")}
    return gunicorn(
        "digit-serve",
        ["-c", str(TREE / "service" / "transport" / "http" / "gunicorn.conf.py"), "--chdir", str(TREE)],
        {"LOG_LEVEL": "info", "THREADS": "2", **other, **(env or {})},
        log_dir=log_dir,
        cwd=TREE,  # else the config, loaded before --chdir, imports this checkout's `service`, not TREE's
    )


def _commit(tree: Path) -> str:
    found = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h"], capture_output=True, text=True)
    return found.stdout.strip() or "(not a git checkout)"


def render(rows: list[Row], extra: list[str], args) -> str:
    lines = [
        f"{os.cpu_count()} cores; servers: 2 workers; wrk: 1 thread, keep-alive, {args.seconds:g} s per row "
        "(wrk shares the cores with the server); CPU vs plain / bare: server CPU per request over the "
        "reference's in the same run (below 1.00x: less CPU than the reference)",
        *([] if TREE == ROOT else [f"digit-serve served from {TREE} at {_commit(TREE)}"]),
        "",
        "| scenario | server | req/s | samples/s | p50 ms | p99 ms | CPU ms/req | busiest worker | CPU vs plain "
        "| CPU vs bare | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        load, refs = row.load, row.references or {}
        ratio = {
            name: f"{load.cpu_ms_per_request / refs[name].cpu_ms_per_request:.2f}x" if refs.get(name) else ""
            for name in ("plain", "bare")
        }
        samples = f"{load.rps * row.samples_per_request:,.0f}" if row.samples_per_request > 1 else ""
        busiest = f"{load.busiest_share:.2f}" if load.worker_cpu_s else ""
        lines.append(
            f"| {row.scenario} | {row.server} | {load.rps:,.0f} | {samples} | {load.p50_ms:.2f} | "
            f"{load.p99_ms:.2f} | {load.cpu_ms_per_request:.3f} | {busiest} | "
            f"{ratio['plain']} | {ratio['bare']} | {load.errors + load.non_2xx} |"
        )
    return "\n".join([*lines, "", *extra])
