"""Operator endpoints: Prometheus metrics, the OpenAPI document and its Swagger UI (served locally)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory
from werkzeug.exceptions import NotFound

from service import observability
from service.transport.http.api import json_response, runtime
from service.transport.http.openapi import build_openapi
from service.version import __version__

bp = Blueprint("meta", __name__)

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>digit-serve API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""
DOCS_INIT = "window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui'});\n"
DOCS_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js"}


def _swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


@bp.get("/metrics")
def metrics() -> Response:
    body, content_type = observability.render_metrics()
    return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)


@bp.get("/openapi.json")
def openapi() -> Response:
    return json_response(build_openapi(__version__, runtime().registry.names(), runtime().settings.default_model))


@bp.get("/docs")
def docs() -> Response:
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/init.js")
def docs_init() -> Response:
    return Response(DOCS_INIT, mimetype="text/javascript")


@bp.get("/docs/assets/<filename>")
def docs_asset(filename: str) -> Response:
    if filename not in DOCS_ASSETS:
        raise NotFound(f"no asset {filename}")  # the error handlers write the body, as for every error
    return send_from_directory(_swagger_dir(), filename, max_age=3600)
