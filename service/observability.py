"""Metrics (Prometheus, correct across gunicorn workers) and the JSON access log's writer. No Flask, no grpc.

What a request ran is recorded by its transport (service/transport/http/request_log.py writes the HTTP access
line; the gRPC servicer calls `record_grpc`); the runtime below records only what it measures itself.
Multiprocess mode: gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, every worker writes its samples there, and /metrics aggregates them.
Without it (the Flask test client, a single process) the default in-process registry is used.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from functools import cache, lru_cache

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger("service.observability")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INSTANCE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})

REQUESTS = Counter(
    "digit_serve_requests_total", "HTTP requests answered", ["endpoint", "method", "status", "model", "version"]
)
REQUEST_LATENCY = Histogram(
    "digit_serve_request_latency_seconds", "Time from request to response", ["endpoint"], buckets=LATENCY_BUCKETS
)
INFERENCE_LATENCY = Histogram(
    "digit_serve_inference_latency_seconds", "onnxruntime time per batch", ["model", "version"], buckets=LATENCY_BUCKETS
)
INSTANCES = Histogram(
    "digit_serve_instances_per_request",
    "Instances (numbers or images) per request",
    ["model"],
    buckets=INSTANCE_BUCKETS,
)
BATCH_SIZE = Histogram(
    "digit_serve_batch_size",
    "Rows per onnxruntime run made by the adaptive batcher",
    ["model"],
    buckets=INSTANCE_BUCKETS,
)
QUEUE_TIME = Histogram(
    "digit_serve_batch_queue_seconds",
    "Time a request waited in the adaptive batcher's queue",
    ["model", "version"],
    buckets=LATENCY_BUCKETS,
)
DIGIT_CHECKS = Counter("digit_serve_digit_checks_total", "Images is_digit answered, by verdict", ["verdict"])
READ_MARKS = Histogram(
    "digit_serve_read_digits", "Digits found per /read answer", buckets=(1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24)
)
FEEDBACK = Counter(
    "digit_serve_feedback_total", "Corrections received, by outcome (stored, duplicate, or an error code)", ["outcome"]
)
SHED = Counter("digit_serve_requests_shed_total", "Requests answered 503 at once because a worker was at capacity")
IMAGES_DECODED = Counter("digit_serve_images_decoded_total", "Images decoded and preprocessed")
MODEL_LOADS = Counter("digit_serve_model_loads_total", "Model version loads", ["model", "version", "result"])
SERVED_VERSION = Gauge(
    "digit_serve_served_version", "Version served by default, per model", ["model"], multiprocess_mode="livemax"
)
PROVIDER = Gauge(
    "digit_serve_model_provider",
    "onnxruntime provider a model runs on (1 = in use)",
    ["model", "provider"],
    multiprocess_mode="livemax",
)


# prometheus_client's labels() validates and locks on every call; a request needs the same few children again.
@cache
def _inference_latency(model: str, version: int):
    return INFERENCE_LATENCY.labels(model, str(version))


@cache
def _instances(model: str):
    return INSTANCES.labels(model)


@cache
def _requests(endpoint: str, method: str, status: int | str, model: str, version: str):
    return REQUESTS.labels(endpoint, method, str(status), model, version)


@cache
def _digit_checks(verdict: str):
    return DIGIT_CHECKS.labels(verdict)


@cache
def _request_latency(endpoint: str):
    return REQUEST_LATENCY.labels(endpoint)


def record_run(model: str, version: int, seconds: float) -> None:
    """One onnxruntime run (of one request, or of a batch of several)."""
    _inference_latency(model, version).observe(seconds)


def record_instances(model: str, instances: int) -> None:
    """The size of one run the runtime was asked for (a request's instances, or a digit check's)."""
    _instances(model).observe(instances)


for _verdict in ("digit", "not_digit"):  # both series from the start, at 0, though each is written only when used
    _digit_checks(_verdict)


def record_digit_checks(checked: int, rejected: int) -> None:
    """is_digit answered for `checked` images, `rejected` of them not digits."""
    # One update per verdict that occurred (a family's counters each cost a locked write to shared memory).
    if checked > rejected:
        _digit_checks("digit").inc(checked - rejected)
    if rejected:
        _digit_checks("not_digit").inc(rejected)


def record_reading(marks: int) -> None:
    """A /read answered with `marks` characters."""
    READ_MARKS.observe(marks)


def record_batch(model: str, version: int, rows: int, queue_seconds: list[float]) -> None:
    """A batch the adaptive batcher ran: its rows, and how long each request in it waited (which the per
    version statistics read too)."""
    BATCH_SIZE.labels(model).observe(rows)
    queued = QUEUE_TIME.labels(model, str(version))
    for seconds in queue_seconds:
        queued.observe(seconds)


def record_request(endpoint: str, method: str, status: int | str, model: str, version: str, seconds: float) -> None:
    """One request answered, by any transport: its count by outcome and its latency."""
    _requests(endpoint, method, status, model, version).inc()
    _request_latency(endpoint).observe(seconds)


def new_request_id() -> str:
    """128 random bits as 32 hex digits, like a uuid4 without its cost; random reseeds in each forked worker."""
    return f"{random.getrandbits(128):032x}"


def record_answer(
    endpoint: str,
    method: str,
    path: str,
    status: int | str,
    model: str,
    version: int | str,
    seconds: float,
    *,
    request_id: str,
    instances: int | None,
    remote: str | None,
    extra: dict | None = None,
) -> None:
    """One request answered, by either transport: its metrics and its access-log line. An HTTP method outside the
    standard ones is counted as "other", so the metric's label values stay bounded; the line keeps it as sent."""
    labelled = method if method in HTTP_METHODS or method == "GRPC" else "other"
    record_request(endpoint, labelled, status, model, str(version), seconds)
    if access_log.enabled:
        entry = {
            "ts": utc_timestamp(time.time()),
            "request_id": request_id or None,
            "method": method,
            "path": path,
            "model": model or None,
            "version": version or None,
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
            "instances": instances,
            "remote": remote,
            "worker": access_log.worker,
        }
        if extra:
            entry.update(extra)
        access_log.write(entry)


def record_grpc(method: str, code: str, tags: dict, seconds: float, peer: str) -> None:
    """One gRPC call: the same request metrics (endpoint "/inference.GRPCInferenceService/<Method>") and log line."""
    endpoint = f"/inference.GRPCInferenceService/{method}"
    record_answer(
        endpoint, "GRPC", endpoint, code, tags.get("model", ""), tags.get("version", ""), seconds,
        request_id=new_request_id(), instances=tags.get("instances"), remote=peer,
    )  # fmt: skip


def record_feedback(outcome: str) -> None:
    """A correction stored, found stored already, or refused (its error code: bad_request, insufficient_storage...)."""
    FEEDBACK.labels(outcome).inc()


def record_shed() -> None:
    SHED.inc()


def record_images(count: int) -> None:
    IMAGES_DECODED.inc(count)


def record_load(model: str, version: int, ok: bool) -> None:
    MODEL_LOADS.labels(model, str(version), "success" if ok else "failure").inc()


def record_served(model: str, version: int, provider: str | None) -> None:
    """The default version of `model` (0 once it is unloaded) and the provider it runs on."""
    SERVED_VERSION.labels(model).set(version)
    if provider:
        PROVIDER.labels(model, provider).set(1)


class AccessLog:
    """One JSON line per request, written to a file descriptor (standard output) in a single write.

    Not through `logging`: its records, handlers and locks cost about a tenth of a request here. One
    os.write per line keeps lines from different threads and workers whole (a pipe takes writes of up
    to 4 KiB atomically). A line that cannot be written is dropped, never an error for the request.
    """

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.enabled = enabled
        self.worker = os.getpid()

    def write(self, entry: dict) -> None:
        try:
            os.write(self.fd, orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        except OSError as exc:  # closed or full standard output: the request still succeeds
            log.debug("access log line dropped: %s", exc)


access_log = AccessLog(fd=1, enabled=True)


def configure_logging(level: str) -> None:
    """Plain log lines for the service on standard error, JSON access lines on standard output (level info)."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    access_log.enabled = logging.getLevelName(level.upper()) <= logging.INFO
    access_log.worker = os.getpid()
    try:
        access_log.fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # stdout replaced by an object without a descriptor
        access_log.enabled = False


def metrics_registry() -> CollectorRegistry:
    """Every serving process's metrics: the multiprocess files summed, or this process's own registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def render_metrics() -> tuple[bytes, str]:
    """Every serving process's metrics in Prometheus' text format, and its content type."""
    return generate_latest(metrics_registry()), CONTENT_TYPE_LATEST


@lru_cache(maxsize=4)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def utc_timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-29T01:20:11.512Z."""
    millis = int(now * 1000)
    return f"{_utc_second(millis // 1000)}.{millis % 1000:03d}Z"
