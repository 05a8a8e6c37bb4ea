"""HTTP blueprints: thin views that parse a request, call the runtime's operations, and shape the response."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app

from service.bootstrap import Runtime


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status, mimetype="application/json")


def runtime() -> Runtime:
    """This app's runtime (service/bootstrap.py): settings, registry, runner and operations."""
    return current_app.extensions["runtime"]
