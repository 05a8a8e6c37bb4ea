"""Triton's perf_analyzer, set up and run against digit-serve over HTTP and gRPC, for the benchmarks
(bench/perf_analyzer.py, `make bench` part "perf") and the suite (tests/service/transport/http/test_perf_analyzer.py).

    python -m support.perf_analyzer     # set up .venv-perf/ (make perf-analyzer does this; the suite too)

perf_analyzer is Triton's own load generator, written by others and independent of wrk: one C++ client
that speaks both protocols, so the HTTP and gRPC rows compare the protocols with the same client and
the same concurrency. PyPI's `perf-analyzer` package is an empty placeholder; the binary ships inside
tritonclient's 2.41.1 wheel (later wheels dropped it). It needs libb64 (Debian's libb64-0d) and the CUDA
runtime library (PyPI's nvidia-cuda-runtime-cu12) to start, even on a machine without a GPU, and
`--input-data zero`: its random data may hold NaN, which the service refuses. It is given the served
version (-x): without one, this perf_analyzer stops at "failed to find the requested model version"
when it reads the server's statistics.
Loopback only; every run is bounded by --measurement-interval and a timeout.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERF_VENV = ROOT / ".venv-perf"
BINARY = PERF_VENV / "bin" / "perf_analyzer"
TRITONCLIENT = "2.41.1"  # the last tritonclient wheel with perf_analyzer inside
CUDA_RUNTIME = "nvidia-cuda-runtime-cu12==12.9.79"


@dataclass
class Measured:
    """One perf_analyzer run: client-side throughput and latency, as it reports them."""

    protocol: str
    concurrency: int
    per_second: float
    p50_ms: float
    p99_ms: float


def _cuda_library_dir() -> Path:
    found = sorted(PERF_VENV.glob("lib/python*/site-packages/nvidia/cuda_runtime/lib"))
    if not found:
        raise SystemExit(f"no CUDA runtime under {PERF_VENV}: run `make perf-analyzer`")
    return found[0]


def install() -> Path:
    """perf_analyzer and what it needs to start, in .venv-perf/ (and libb64-0d from Debian, as root)."""
    if not (PERF_VENV / "bin" / "pip").exists():
        venv.create(PERF_VENV, with_pip=True)
    pip = [str(PERF_VENV / "bin" / "pip"), "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", CUDA_RUNTIME], check=True)
    if not BINARY.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [
                    *pip,
                    *("download", "--no-deps", "--only-binary=:all:", "--platform", "manylinux1_x86_64"),
                    *("--python-version", "3.11", "-d", tmp, f"tritonclient=={TRITONCLIENT}"),
                ],
                check=True,
            )
            wheel = next(Path(tmp).glob("tritonclient-*.whl"))
            with (
                zipfile.ZipFile(wheel) as archive,
                archive.open(f"tritonclient-{TRITONCLIENT}.data/data/bin/perf_analyzer") as source,
                BINARY.open("wb") as target,
            ):
                shutil.copyfileobj(source, target)
        BINARY.chmod(0o755)
    libraries = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    if "libb64.so.0d" not in libraries:
        if os.geteuid() != 0:
            raise SystemExit("perf_analyzer needs Debian's libb64-0d: apt-get install libb64-0d")
        subprocess.run(["apt-get", "install", "-y", "-qq", "libb64-0d"], check=True, stdout=subprocess.DEVNULL)
    version = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True, env=_environment())
    if version.returncode != 0:
        raise SystemExit(f"perf_analyzer does not start: {version.stderr.strip() or version.stdout.strip()}")
    return BINARY


def _environment(channel_share: int | None = None) -> dict[str, str]:
    library_path = os.pathsep.join(filter(None, [str(_cuda_library_dir()), os.environ.get("LD_LIBRARY_PATH")]))
    found = {**os.environ, "LD_LIBRARY_PATH": library_path}
    if channel_share is not None:
        # tritonclient's C++ gRPC client shares one channel (one TCP connection) among up to this many of its
        # clients (default 6): 1 gives each of perf_analyzer's concurrent clients a connection of its own.
        found["TRITON_CLIENT_GRPC_CHANNEL_MAX_SHARE_COUNT"] = str(channel_share)
    return found


def measure(
    address: str,
    protocol: str,
    model: str,
    version: int,
    concurrency: int,
    seconds: float,
    batch: int = 1,
    channel_share: int | None = None,
) -> Measured:
    """perf_analyzer at one concurrency for about `seconds` per measurement window (it takes several);
    `channel_share`: over gRPC, how many of its clients share one connection (tritonclient's default: 6)."""
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} is missing: run `make perf-analyzer`")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.csv"
        command = [
            str(BINARY),
            "-m",
            model,
            "-x",
            str(version),
            "-u",
            address,
            "-i",
            protocol,
            "-b",
            str(batch),
            "--input-data",
            "zero",
            "--concurrency-range",
            str(concurrency),
            "--measurement-interval",
            str(int(seconds * 1000)),
            "--max-trials",
            "10",
            "--stability-percentage",
            "30",  # this shared 2-core machine varies more than perf_analyzer's default 10 % between windows
            "-f",
            str(report),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, env=_environment(channel_share), timeout=seconds * 20 + 60
        )
        if done.returncode != 0 or not report.exists():
            raise RuntimeError(
                f"perf_analyzer failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
        row = next(csv.DictReader(report.open()))
    return Measured(
        protocol=protocol,
        concurrency=concurrency,
        per_second=float(row["Inferences/Second"]) / batch,
        p50_ms=float(row["p50 latency"]) / 1000,
        p99_ms=float(row["p99 latency"]) / 1000,
    )


def check(address: str, protocol: str, model: str, version: int, requests: int = 200) -> subprocess.CompletedProcess:
    """A short correctness run: count windows of `requests` each, no stability demanded (so that a busy machine
    cannot fail it), concurrency 2. The caller checks the exit status and the output."""
    return subprocess.run(
        [
            str(BINARY),
            *("-m", model, "-x", str(version), "-u", address, "-i", protocol, "--input-data", "zero"),
            *("--concurrency-range", "2", "--measurement-mode", "count_windows"),
            *("--measurement-request-count", str(requests), "--stability-percentage", "1000", "--max-trials", "3"),
        ],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
    )


if __name__ == "__main__":
    print(install())
