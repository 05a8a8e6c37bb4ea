"""Liveness, readiness and model metadata."""

from __future__ import annotations

from flask import Blueprint, Response

from service.api import json_response, registry

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    models = registry()
    if not models.ready:
        return json_response({"status": "not ready", "models": {}}, status=503)
    return json_response({"status": "ready",
                          "models": {name: models.get(name).version for name in models.names()}})


@bp.get("/models")
def list_models() -> Response:
    models = registry()
    return json_response({"models": [models.describe(name) for name in models.names()]})


@bp.get("/models/<name>")
def describe_model(name: str) -> Response:
    return json_response(registry().describe(name))


@bp.get("/models/<name>/versions/<version>")
def describe_version(name: str, version: str) -> Response:
    return json_response(registry().get(name, version).describe())
