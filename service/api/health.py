"""Liveness, readiness and model metadata."""

from __future__ import annotations

from flask import Blueprint, Response

from service.api import json_response, registry
from service.model import ModelVersion

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    models = registry()
    if not models.ready:
        return json_response({"status": "not ready", "models": {}}, status=503)
    return json_response({"status": "ready", "models": {name: models.get(name).version for name in models.names()}})


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
