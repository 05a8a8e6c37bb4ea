"""Liveness, readiness and model metadata."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, serving_status
from service.transport.http.api import json_response, runtime

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
    feedback = runtime().feedback
    if feedback is not None:  # corrections can fail alone: everything else serves, so readiness stands
        body["feedback"] = feedback.state
    return json_response(body, status=200 if status == "ready" else 503)


def registry() -> ModelRegistry:
    return runtime().registry


def readiness() -> tuple[str, dict[str, int], dict[str, str]]:
    """This app's serving status (service.core.registry.serving_status)."""
    return serving_status(registry(), current_app.config.get("DRAIN_FILE"))


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
        **({"threshold": card["threshold"]} if "threshold" in card else {}),  # isdigit: where is_digit turns true
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
