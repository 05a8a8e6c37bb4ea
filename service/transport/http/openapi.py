"""The OpenAPI 3 document (served at /openapi.json): openapi.yaml beside this file, with what has one source
elsewhere filled in, so that it cannot drift from the code.

- info.version: service.version.__version__;
- the models `/predict` takes: those the repository serves now, and DEFAULT_MODEL;
- the image media types of `/predict` and `/read`: what the decoder accepts (`image/*` in the YAML);
- the error codes: every typed error's (service/errors.py) and every HTTP error's that werkzeug can raise.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from werkzeug.exceptions import default_exceptions
from werkzeug.http import HTTP_STATUS_CODES

from service.errors import error_classes
from service.reading import IMAGE_MEDIA_TYPES

DOCUMENT = Path(__file__).with_name("openapi.yaml")
ANY_IMAGE = "image/*"


@cache
def _document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


def http_error_code(name: str) -> str:
    """The code of an HTTP error's JSON body, from its name: "Not Found" -> not_found."""
    return name.lower().replace(" ", "_")


def error_codes() -> list[str]:
    """Every `error.code` a JSON error body can carry."""
    typed = {kind.code for kind in error_classes()}
    return sorted(typed | {http_error_code(HTTP_STATUS_CODES[status]) for status in default_exceptions})


def build_openapi(version: str, models: list[str], default_model: str) -> dict[str, Any]:
    """The whole document, for the models the repository serves now (`models`; requests default to `default_model`)."""
    document = copy.deepcopy(_document())
    document["info"]["version"] = version
    model = document["components"]["schemas"]["PredictRequest"]["properties"]["model"]
    model["enum"], model["default"] = models, default_model
    for item in document["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if ANY_IMAGE in content:
                schema = content.pop(ANY_IMAGE)["schema"]
                content.update({media: {"schema": dict(schema)} for media in sorted(IMAGE_MEDIA_TYPES)})
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    error["properties"]["code"]["enum"] = error_codes()
    return document
