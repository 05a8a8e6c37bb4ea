"""Metrics (Prometheus, correct across gunicorn workers), request ids, and one JSON log line per request.

Multiprocess mode: gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, every worker writes its samples there, and /metrics aggregates them.
Without it (the Flask test client, a single process) the default in-process registry is used.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

import orjson
from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

access_log = logging.getLogger("service.access")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INSTANCE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

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


def record_inference(model: str, version: int, instances: int, seconds: float) -> None:
    """Inference metrics; inside an HTTP request, also what its access-log line names."""
    INFERENCE_LATENCY.labels(model, str(version)).observe(seconds)
    INSTANCES.labels(model).observe(instances)
    if has_request_context():
        g.model, g.version, g.instances = model, version, instances


def record_images(count: int) -> None:
    IMAGES_DECODED.inc(count)


def record_load(model: str, version: int, ok: bool) -> None:
    MODEL_LOADS.labels(model, str(version), "success" if ok else "failure").inc()


def record_served(model: str, version: int, provider: str | None) -> None:
    """The default version of `model` (0 once it is unloaded) and the provider it runs on."""
    SERVED_VERSION.labels(model).set(version)
    if provider:
        PROVIDER.labels(model, provider).set(1)


def configure_logging(level: str) -> None:
    """Plain log lines for the service, bare JSON lines for the access log."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not access_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.propagate = False
    access_log.setLevel(level.upper())


def render_metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], content_type=CONTENT_TYPE_LATEST)


def _utc_timestamp(now: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-29T01:20:11.512Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def install_request_hooks(app: Flask) -> None:
    """Request id in and out, one JSON access-log line and the request metrics for every response."""

    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex

    @app.after_request
    def finish_request(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        model, version = g.get("model", ""), g.get("version", "")
        REQUESTS.labels(endpoint, request.method, str(response.status_code), model, str(version)).inc()
        REQUEST_LATENCY.labels(endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                orjson.dumps(
                    {
                        "ts": _utc_timestamp(time.time()),
                        "request_id": g.get("request_id"),
                        "method": request.method,
                        "path": request.path,
                        "model": model or None,
                        "version": version or None,
                        "status": response.status_code,
                        "latency_ms": round(elapsed * 1000, 3),
                        "instances": g.get("instances"),
                        "remote": request.remote_addr,
                    }
                ).decode()
            )
        return response
