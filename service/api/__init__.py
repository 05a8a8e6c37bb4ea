"""HTTP blueprints: thin views that parse a request, call the registry, and shape the response."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app

from service.dataplane import DataPlane
from service.registry import ModelRegistry
from service.settings import Settings


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status, mimetype="application/json")


def registry() -> ModelRegistry:
    return current_app.extensions["registry"]


def dataplane() -> DataPlane:
    return current_app.extensions["dataplane"]


def settings() -> Settings:
    return current_app.config["SETTINGS"]
