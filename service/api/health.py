"""Liveness, readiness and model metadata."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service.api import json_response, registry
from service.model import ModelVersion

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    status, models, failed = readiness()
    body: dict = {"status": status, "models": models}
    if failed:
        body["failed"] = failed
    return json_response(body, status=200 if status == "ready" else 503)


def readiness() -> tuple[str, dict[str, int], dict[str, str]]:
    """ready; draining (shutting down: a preStop hook ran); degraded (a version failed to load at start, the
    others serve); or not ready (models not loaded yet). With the served versions and the failures."""
    models = registry()
    served = {name: models.get(name).version for name in models.names()} if models.ready else {}
    drain_file = current_app.config.get("DRAIN_FILE")
    if drain_file is not None and drain_file.exists():
        return "draining", served, {}
    if not models.ready:
        return "not ready", served, {}
    if models.start_failures:
        return "degraded", served, models.start_failures
    return "ready", served, {}


def version_description(model: ModelVersion) -> dict:
    """One loaded version as /models answers it: tensors, preprocessing, labels, metrics and provider."""
    card = model.card
    return {
        "name": model.name,
        "version": model.version,
        "task": model.task,
        "inputs": [spec.describe() for spec in model.inputs],
        "outputs": [spec.describe() for spec in model.outputs],
        "preprocessing": card.get("preprocessing"),
        "labels": model.labels,
        "parameters": card.get("parameters"),
        "metrics": card.get("metrics", {}),
        "created_at": card.get("created_at"),
        "provider": model.provider,
    }


def model_description(name: str) -> dict:
    """A model's served version with its metadata, and every loaded version."""
    served = registry().get(name)
    return {**version_description(served), "versions": registry().versions(name), "served_version": served.version}


@bp.get("/models")
def list_models() -> Response:
    return json_response({"models": [model_description(name) for name in registry().names()]})


@bp.get("/models/<name>")
def describe_model(name: str) -> Response:
    return json_response(model_description(name))


@bp.get("/models/<name>/versions/<version>")
def describe_version(name: str, version: str) -> Response:
    return json_response(version_description(registry().get(name, version)))
