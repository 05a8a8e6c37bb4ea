"""Per model version inference statistics, as Triton's statistics extension reports them, from real counters.

The data plane counts every inference request it runs (success or failure, with its duration), the instances
in it and the time of the last one; every onnxruntime run (an execution: one request, or one batch of the
adaptive batcher) with the time spent preparing its inputs, running and splitting its outputs; and, with
BATCHING on, the time each request waited in the batcher's queue. The counters are Prometheus metrics, so that
every gunicorn worker and the gRPC server add to the same totals (multiprocess mode) and `/metrics` shows them
too. `GET /v2/models/{name}/stats` and gRPC `ModelStatistics` both answer `model_statistics()`.

What the transports do before the data plane (decoding JSON, images or protobuf into arrays) is not in
`compute_input`, which is the data plane's own preparation (the batcher's concatenation, for instance); a
request refused before it reaches the data plane is not counted as failed. No response cache: cache hits and
misses are zero.
"""

from __future__ import annotations

import time
from collections import defaultdict
from functools import cache
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from service.observability import metrics_registry

if TYPE_CHECKING:
    from service.core.registry import ModelRegistry

INFER_REQUESTS = Counter(
    "digit_serve_model_requests_total", "Inference requests run by the data plane", ["model", "version", "result"]
)
INFER_SECONDS = Counter(
    "digit_serve_model_request_seconds_total",
    "Time inference requests spent in the data plane, queue and run",
    ["model", "version", "result"],
)
INFERENCES = Counter("digit_serve_model_inferences_total", "Instances inferred", ["model", "version"])
LAST_INFERENCE = Gauge(
    "digit_serve_model_last_inference_ms",
    "When the model version last ran a request, milliseconds since the epoch",
    ["model", "version"],
    multiprocess_mode="max",
)
# Executions and their run time are observability's histogram of onnxruntime runs (count and sum).
EXECUTIONS = "digit_serve_inference_latency_seconds"
COMPUTE = Counter(
    "digit_serve_model_compute_seconds_total",
    "Time around onnxruntime runs: preparing inputs, splitting outputs",
    ["model", "version", "phase"],
)
QUEUED = "digit_serve_batch_queue_seconds"  # observability's histogram of the adaptive batcher's queue time
PHASES = ("input", "output")


# prometheus_client's labels() validates and locks on every call: each request needs the same few children.
@cache
def _children(model: str, version: int, result: str):
    labels = (model, str(version))
    return (
        INFER_REQUESTS.labels(*labels, result),
        INFER_SECONDS.labels(*labels, result),
        INFERENCES.labels(*labels),
        LAST_INFERENCE.labels(*labels),
    )


def record(model: str, version: int, instances: int, seconds: float, ok: bool) -> None:
    """One inference request the data plane ran (ok) or that failed there."""
    requests, spent, inferences, last = _children(model, version, "success" if ok else "fail")
    requests.inc()
    spent.inc(seconds)
    if ok:
        inferences.inc(instances)
        last.set(int(time.time() * 1000))


@cache
def _phases(model: str, version: int):
    return [COMPUTE.labels(model, str(version), phase) for phase in PHASES]


def record_execution(model: str, version: int, input_s: float, output_s: float) -> None:
    """Around one onnxruntime run (which observability.record_run counts and times): seconds preparing its
    inputs and splitting its outputs."""
    before, after = _phases(model, version)
    before.inc(input_s)
    after.inc(output_s)


def _samples() -> dict[tuple[str, str], dict[str, float]]:
    """{(model, version): {what: value}}, summed over every process that serves."""
    registry = metrics_registry()
    found: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for family in registry.collect():
        for sample in family.samples:
            labels = sample.labels
            if "model" not in labels or "version" not in labels:
                continue
            key = (labels["model"], labels["version"])
            name = sample.name
            if name == "digit_serve_model_requests_total":
                found[key][f"{labels['result']}_count"] += sample.value
            elif name == "digit_serve_model_request_seconds_total":
                found[key][f"{labels['result']}_seconds"] += sample.value
            elif name == "digit_serve_model_inferences_total":
                found[key]["inferences"] += sample.value
            elif name == "digit_serve_model_last_inference_ms":
                found[key]["last"] = max(found[key]["last"], sample.value)
            elif name == f"{EXECUTIONS}_count":
                found[key]["executions"] += sample.value
            elif name == f"{EXECUTIONS}_sum":
                found[key]["infer_seconds"] += sample.value
            elif name == "digit_serve_model_compute_seconds_total":
                found[key][f"{labels['phase']}_seconds"] += sample.value
            elif name == f"{QUEUED}_count":
                found[key]["queued"] += sample.value
            elif name == f"{QUEUED}_sum":
                found[key]["queue_seconds"] += sample.value
    return found


def _duration(count: float, seconds: float) -> dict[str, int]:
    return {"count": int(count), "ns": int(seconds * 1e9)}


def model_statistics(versions: dict[str, list[int]]) -> list[dict]:
    """Triton's `model_stats` entries for `versions` ({model: [version, ...]}), in the HTTP extension's JSON form."""
    samples = _samples()
    stats = []
    for name in sorted(versions):
        for number in sorted(versions[name]):
            seen = samples.get((name, str(number)), {})
            zero, executions = _duration(0, 0), seen.get("executions", 0)
            stats.append(
                {
                    "name": name,
                    "version": str(number),
                    "last_inference": int(seen.get("last", 0)),
                    "inference_count": int(seen.get("inferences", 0)),
                    "execution_count": int(executions),
                    "inference_stats": {
                        "success": _duration(seen.get("success_count", 0), seen.get("success_seconds", 0)),
                        "fail": _duration(seen.get("fail_count", 0), seen.get("fail_seconds", 0)),
                        "queue": _duration(seen.get("queued", 0), seen.get("queue_seconds", 0)),
                        "compute_input": _duration(executions, seen.get("input_seconds", 0)),
                        "compute_infer": _duration(executions, seen.get("infer_seconds", 0)),
                        "compute_output": _duration(executions, seen.get("output_seconds", 0)),
                        "cache_hit": zero,
                        "cache_miss": zero,
                    },
                    "batch_stats": [],
                }
            )
    return stats


def scope(registry: ModelRegistry, name: str | None, version: str | None) -> dict[str, list[int]]:
    """{model: [versions]} that a statistics request names: every loaded version of every model, of one
    model, or one version. ModelNotFound (404, NOT_FOUND) for a model or version that is not loaded."""
    if not name:
        return {model: registry.versions(model) for model in registry.names()}
    if version:
        return {name: [registry.get(name, version).version]}
    registry.get(name)
    return {name: registry.versions(name)}
