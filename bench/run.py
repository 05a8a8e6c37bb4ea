"""digit-serve beside its references, on this machine, in one run: `make bench` (or python -m bench.run).

References, each started with gunicorn and 2 sync workers on loopback:
  bare   bench/bare_app.py: Flask parsing the same JSON body and answering a constant (the HTTP + JSON ceiling)
  plain  bench/plain_app.py: a ~30-line Flask + onnxruntime app, as a tutorial writes it (no validation,
         metrics or logs), run twice: 1 intra-op thread per session, and onnxruntime's default; "vs plain"
         divides by the faster of the two
digit-serve runs as `make serve` runs it (gunicorn.conf.py, 2 workers x 2 threads, access log and metrics
on), writing its log to a file. wrk drives every server over keep-alive connections for --seconds. The
CPU time of the server's processes gives CPU ms per request and the busiest worker's share (0.50 is an
even split between two workers). With --peers, KServe's Python model server serves the same ONNX files
from its own virtual environment inside a network namespace with only loopback (bench/peers.py).
Everything talks to 127.0.0.1 only, and every run is bounded in time.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bench.harness import (
    ROOT,
    Load,
    Row,
    gunicorn,
    post,
    render,
    rss_mb,
    service,
    use_tree,
    v2_binary_request,
    wrk,
)
from bench.peers import kserve_rows
from bench.perf_analyzer import perf_rows
from bench.protocols import grpc_rows
from service.core.model import load_version
from support.load import ordinary_requests, p99, trickling_clients
from training.datasets import handwriting, numberset

SYNC = ["-w", "2", "-k", "sync", "--chdir", str(ROOT / "bench")]
JSON = {"Content-Type": "application/json"}


def _digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ROOT / "tests" / "data" / "mnist_test_1000.npz") as data:
        return data["images"], data["labels"]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _photo() -> bytes:
    """A 3000x4000 phone-style JPEG (3 MB) of a 7 in dark ink on unevenly lit, grainy paper."""
    rng = np.random.default_rng(0)
    x = np.arange(3000)[None, :] / 3000
    paper = 200 + 30 * x + rng.normal(0, 6, (4000, 3000))
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    ImageDraw.Draw(image).line([(1100, 1200), (1900, 1200), (1400, 2900)], fill=(30, 30, 40), width=120)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _raw_runs(batch: np.ndarray, threads: int, seconds: float, results) -> None:
    model = load_version(ROOT / "models" / "mlp" / "1", ["CPUExecutionProvider"], threads)
    feeds = {"pixels": batch}
    for _ in range(20):
        model.run(feeds)
    runs, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        model.run(feeds)
        runs += 1
    results.put((runs, time.perf_counter() - started, time.process_time() - cpu))


def raw_onnxruntime(
    batch: np.ndarray, threads: int = 1, processes: int = 2, seconds: float = 3.0
) -> tuple[float, float]:
    """The MLP on `batch` in `processes` processes at once with `threads` intra-op threads each (the service's
    workers, like for like): samples per second of them all, and CPU ms per run."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_raw_runs, args=(batch, threads, seconds, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    found = [results.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    samples_per_s = sum(runs * len(batch) / wall for runs, wall, _ in found)
    cpu_ms_per_run = 1000 * sum(cpu for *_, cpu in found) / sum(runs for runs, *_ in found)
    return samples_per_s, cpu_ms_per_run


def _cheaper(known: Load | None, load: Load) -> Load:
    """The run with less server CPU per request: the reference is the better tuned of the plain app's two."""
    return load if known is None or load.cpu_ms_per_request < known.cpu_ms_per_request else known


def single_instance(args, rows: list[Row]) -> None:
    """digit-serve's single-instance rows, each measured right after the references' in the same scenario.

    On this shared VM the same server's CPU per request drifts by a fifth within minutes, so the references
    stay up for the whole part and run just before digit-serve in every scenario of every start: each ratio
    compares runs seconds apart. The plain app with onnxruntime's default pool runs once, to show it is the
    slower of its two settings; each ratio divides by the cheaper of the two (the tuned one, so far).
    """
    images, _ = _digits()
    pixels = np.round(images[0] / 255.0, 4).reshape(784).tolist()
    body = json.dumps({"model": "mlp", "inputs": [pixels]}).encode()
    v2 = json.dumps({"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "FP32", "data": pixels}]}).encode()
    png = _png(255 - images[0])  # dark ink on white, as a scan or photo has it
    png_headers = {"Content-Type": "image/png"}
    models = str(ROOT / "models")
    default: dict[str, Load] = {}
    with gunicorn(
        "plain-0", [*SYNC, "plain_app:app"], {"MODEL_DIR": models, "INTRA_OP_THREADS": "0"}, ready_path="/healthz"
    ) as plain:
        for connections in args.connections:
            default[f"json{connections}"] = load = wrk(plain, "/predict", body, JSON, args.seconds, connections)
            rows.append(Row(f"MLP JSON, 1 instance, {connections} conn", "plain, onnxruntime's default threads", load))
        default["png"] = load = wrk(plain, "/predict", png, png_headers, args.seconds, 8)
        rows.append(Row("28x28 PNG to the CNN, 8 conn", "plain, onnxruntime's default threads", load))
    with (
        gunicorn("bare", [*SYNC, "bare_app:app"], ready_path="/healthz") as bare,
        gunicorn(
            "plain-1", [*SYNC, "plain_app:app"], {"MODEL_DIR": models, "INTRA_OP_THREADS": "1"}, ready_path="/healthz"
        ) as plain,
    ):
        for start in range(1, args.starts + 1):  # the targets hold on every start, not on a lucky one
            tag = f", start {start}" if args.starts > 1 else ""
            with service() as served:
                for connections in args.connections:
                    scenario = f"MLP JSON, 1 instance, {connections} conn"
                    ceiling = wrk(bare, "/predict", body, JSON, args.seconds, connections)
                    tuned = wrk(plain, "/predict", body, JSON, args.seconds, connections)
                    rows.append(Row(scenario, f"bare (ceiling){tag}", ceiling))
                    rows.append(Row(scenario, f"plain, 1 intra-op thread{tag}", tuned))
                    refs = {"bare": ceiling, "plain": _cheaper(default[f"json{connections}"], tuned)}
                    load = wrk(served, "/predict", body, JSON, args.seconds, connections)
                    rows.append(Row(scenario, f"digit-serve /predict{tag}", load, references=refs))
                    if start == 1 and connections == args.connections[0]:
                        load = wrk(served, "/v2/models/mlp/infer", v2, JSON, args.seconds, connections)
                        rows.append(Row(scenario, "digit-serve /v2 JSON", load, references=refs))
                tuned = wrk(plain, "/predict", png, png_headers, args.seconds, 8)
                rows.append(Row("28x28 PNG to the CNN, 8 conn", f"plain, 1 intra-op thread{tag}", tuned))
                rows.append(
                    Row(
                        "28x28 PNG to the CNN, 8 conn",
                        f"digit-serve /predict (MNIST preprocessing, is_digit){tag}",
                        wrk(served, "/predict", png, png_headers, args.seconds, 8),
                        references={"plain": _cheaper(default["png"], tuned)},
                    )
                )


def batches(args, rows: list[Row], extra: list[str]) -> None:
    images, _ = _digits()
    batch = (images[:256] / 255.0).reshape(256, 784).astype(np.float32)
    binary, headers = v2_binary_request(batch)
    json_body = json.dumps({"model": "mlp", "inputs": np.round(batch, 4).tolist()}).encode()
    photo = _photo()
    with service() as served:
        rows.append(
            Row(
                "MLP batch 256, /v2 binary, 4 conn",
                "digit-serve",
                wrk(served, "/v2/models/mlp/infer", binary, headers, args.seconds, 4),
                samples_per_request=256,
            )
        )
        rows.append(
            Row(
                "MLP batch 256, JSON /predict, 4 conn",
                "digit-serve",
                wrk(served, "/predict", json_body, JSON, args.seconds, 4),
                samples_per_request=256,
            )
        )
        post(served, "/predict", photo, {"Content-Type": "image/jpeg"})
        rows.append(
            Row(
                "3000x4000 JPEG (3 MB) to the CNN, 1 conn",
                "digit-serve",
                wrk(served, "/predict", photo, {"Content-Type": "image/jpeg"}, args.seconds, 1),
            )
        )
    binary_row = rows[-3]
    raw, raw_cpu = raw_onnxruntime(batch, threads=1, processes=2)
    served_cpu = binary_row.load.cpu_ms_per_request
    extra.append(
        f"Raw onnxruntime, MLP batch 256, like for like (2 processes at once, 1 intra-op thread each, as the "
        f"service's 2 workers run): {raw:,.0f} samples/s, {raw_cpu:.3f} CPU ms per run; /v2 binary batch 256 "
        f"reached {binary_row.load.rps * 256 / raw:.2f}x its samples/s, at {served_cpu / raw_cpu:.2f}x its CPU "
        "per batch (the server's processes, not wrk's)."
    )


def number_photo(text: str = "2026", size: tuple[int, int] = (1000, 300)) -> bytes:
    """A phone-style JPEG of `text` written with MNIST test digits on unevenly lit paper, `size` pixels."""
    images, labels = _digits()
    rng = np.random.default_rng(0)
    glyphs = [np.asarray(Image.fromarray(images[np.flatnonzero(labels == int(c))[0]]).resize((180, 180)), np.float32)
              for c in text]  # fmt: skip
    ink = numberset.compose(glyphs, rng, (0.1, 0.2), 0)
    glyph = Image.fromarray(np.clip(ink, 0, 255).astype(np.uint8))
    position = ((size[0] - glyph.width) // 2, (size[1] - glyph.height) // 2)
    photo = handwriting._on_paper(glyph, rng, size, position)
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def reading(args, rows: list[Row]) -> None:
    """/read of a 4-digit 1000x300 photo, with its three readers and with the segmenting reader alone, beside /predict
    of a 28x28 PNG (which now answers is_digit too)."""
    photo = number_photo()
    images, _ = _digits()
    png = _png(255 - images[0])
    with service({"LINE_READER_MODEL": "off", "CHAR_MODEL": "off"}) as served:
        assert "readers_agree" not in post(served, "/read", photo, {"Content-Type": "image/jpeg"}).json()
        rows.append(
            Row(
                "/read, 4-digit 1000x300 photo, 1 conn",
                "digit-serve, segmenting reader alone (LINE_READER_MODEL=off CHAR_MODEL=off)",
                wrk(served, "/read", photo, {"Content-Type": "image/jpeg"}, args.seconds, 1),
            )
        )
    with service() as served:
        answer = post(served, "/read", photo, {"Content-Type": "image/jpeg"}).json()
        assert answer["text"] == "2026"
        assert "readers_agree" in answer  # all three readers ran
        for connections in (1, 8):
            rows.append(
                Row(
                    f"/read, 4-digit 1000x300 photo, {connections} conn",
                    "digit-serve, three readers",
                    wrk(served, "/read", photo, {"Content-Type": "image/jpeg"}, args.seconds, connections),
                )
            )
        rows.append(
            Row(
                "28x28 PNG to the CNN, 1 conn",
                "digit-serve /predict (with is_digit)",
                wrk(served, "/predict", png, {"Content-Type": "image/png"}, args.seconds, 1),
            )
        )
    with service({"DIGIT_CHECK_MODEL": "off"}) as served:
        rows.append(
            Row(
                "28x28 PNG to the CNN, 1 conn",
                "digit-serve /predict, DIGIT_CHECK_MODEL=off",
                wrk(served, "/predict", png, {"Content-Type": "image/png"}, args.seconds, 1),
            )
        )


def batching(args, rows: list[Row]) -> None:
    """Adaptive batching against none, same threads, at concurrency 1, 8, 64 and 256."""
    images, _ = _digits()
    pixels = np.round(images[0] / 255.0, 4).reshape(784).tolist()
    body = json.dumps({"model": "mlp", "inputs": [pixels]}).encode()
    for label, env in (("no batching", {}), (f"BATCHING=mlp={args.batch}", {"BATCHING": f"mlp={args.batch}"})):
        with service({"THREADS": "64", **env}) as served:
            for connections in (1, 8, 64, 256):
                rows.append(
                    Row(
                        f"MLP JSON, 1 instance, {connections} conn, 64 threads",
                        f"digit-serve, {label}",
                        wrk(served, "/predict", body, JSON, args.seconds, connections),
                    )
                )


def workers(args, rows: list[Row], extra: list[str]) -> None:
    """The service's own gunicorn worker against stock gthread (WORKER_CLASS=gthread), same settings: CPU per
    request and evenness under wrk, and ordinary clients beside 64 that trickle their bodies."""
    images, _ = _digits()
    body = json.dumps({"model": "mlp", "inputs": [np.round(images[0] / 255.0, 4).reshape(784).tolist()]}).encode()
    png = _png(255 - images[0])
    for worker_class in ("balanced", "gthread"):
        for start in range(1, args.starts + 1):
            tag = f"WORKER_CLASS={worker_class}, start {start}"
            with service({"WORKER_CLASS": worker_class}) as served:
                rows.append(
                    Row("MLP JSON, 1 instance, 8 conn", tag, wrk(served, "/predict", body, JSON, args.seconds, 8))
                )
                rows.append(
                    Row(
                        "28x28 PNG to the CNN, 8 conn",
                        tag,
                        wrk(served, "/predict", png, {"Content-Type": "image/png"}, args.seconds, 8),
                    )
                )
                if start == 1:
                    with trickling_clients(served.port, 64):
                        latencies, failures = ordinary_requests(served.port, count=200, clients=4)
                    extra.append(
                        f"{worker_class}: beside 64 clients trickling their bodies, ordinary clients got "
                        f"{len(latencies)}/200 answers, p99 {1000 * p99(latencies):.1f} ms"
                        + (f", failures {sorted(set(failures))}" if failures else "")
                    )


def start_and_memory(args, extra: list[str]) -> None:
    images, _ = _digits()
    body = json.dumps({"model": "mlp", "inputs": [np.round(images[0] / 255.0, 4).reshape(784).tolist()]}).encode()
    started = time.perf_counter()
    with service() as served:
        ready = time.perf_counter() - started - 0.5  # the harness waits 0.5 s after readiness
        master = rss_mb(served.process.pid)
        wrk(served, "/predict", body, JSON, 2, 8)
        warm = {pid: rss_mb(pid) for pid in served.worker_pids()}
        wrk(served, "/predict", body, JSON, args.seconds * 3, 8)
        after = {pid: rss_mb(pid) for pid in served.worker_pids()}
        maps = Path(f"/proc/{served.process.pid}/maps").read_text()
    growth = max((after[pid] - warm[pid]) / warm[pid] for pid in warm)
    extra.append(f"Cold start to ready (every worker up, models loaded and warmed): {ready:.2f} s.")
    extra.append(
        f"RSS per worker after warm-up: {', '.join(f'{v:.0f}' for v in warm.values())} MB; after "
        f"{args.seconds * 3:g} s more load: {', '.join(f'{v:.0f}' for v in after.values())} MB "
        f"(largest growth {100 * growth:+.1f} %). Master: {master:.0f} MB, onnxruntime "
        f"{'mapped (imported to check DEVICE), no session' if 'onnxruntime' in maps else 'not mapped'}."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=lambda v: [int(c) for c in v.split(",")], default=[8, 32])
    parser.add_argument("--starts", type=int, default=3, help="digit-serve starts for the single-instance rows")
    parser.add_argument("--batch", default="32/2", help="the BATCHING policy to compare, rows/ms (default 32/2)")
    parser.add_argument(
        "--only", help="comma-separated parts: single,batches,read,batching,grpc,perf,start,workers,peers"
    )
    parser.add_argument("--peers", action="store_true", help="also KServe's Python server (bench/peers.py)")
    parser.add_argument(
        "--tree",
        type=Path,
        help="serve another checkout of digit-serve (e.g. `git worktree add ../before <commit>`): before and after "
        "measured by the same harness and references",
    )
    args = parser.parse_args()
    use_tree((args.tree or ROOT).resolve())
    every = {"single", "batches", "read", "batching", "grpc", "perf", "start", "workers"}
    parts = set(args.only.split(",")) if args.only else every
    if args.peers:
        parts.add("peers")
    rows: list[Row] = []
    extra: list[str] = []
    if "single" in parts:
        single_instance(args, rows)
    if "batches" in parts:
        batches(args, rows, extra)
    if "read" in parts:
        reading(args, rows)
    if "batching" in parts:
        batching(args, rows)
    if "grpc" in parts:
        rows.extend(Row(*row) for row in grpc_rows(args, service))
    if "perf" in parts:
        rows.extend(Row(*row) for row in perf_rows(args, service))
    if "start" in parts:
        start_and_memory(args, extra)
    if "workers" in parts:
        workers(args, rows, extra)
    if "peers" in parts:
        rows.extend(Row(*row) for row in kserve_rows(args))
    print(render(rows, extra, args))


if __name__ == "__main__":
    main()
