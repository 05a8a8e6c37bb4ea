"""POST /predict: JSON numbers, multipart image uploads, or a raw image body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from service.core.model import ModelVersion
from service.core.validation import parse_json
from service.errors import InvalidInput, UnsupportedMedia
from service.reading import IMAGE_MEDIA_TYPES
from service.transport.http.api import json_response, runtime
from service.transport.http.request_log import note

bp = Blueprint("predict", __name__)

JSON_MEDIA_TYPES = {"application/json", "text/plain", "application/x-www-form-urlencoded", ""}
UNTYPED_MEDIA_TYPES = {"", "application/octet-stream", "application/x-www-form-urlencoded"}
TRUE_WORDS = {"1", "true", "yes", "on"}


def choose_model(source: dict[str, Any]) -> ModelVersion:
    """The version a request names (`model`, `version` in the body or form, else the query), or the default."""
    return runtime().digits.model(
        source.get("model") or request.args.get("model"), source.get("version", request.args.get("version"))
    )


def _wants_preprocessed(source: dict[str, Any]) -> bool:
    flag = source.get("preprocessed", request.args.get("preprocessed", ""))
    return flag is True or str(flag).lower() in TRUE_WORDS


def _is_json(mimetype: str, body: bytes) -> bool:
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return True
    # curl -d sends form-urlencoded and some clients send text/plain: accept a body that is a JSON object.
    return mimetype in JSON_MEDIA_TYPES and body.lstrip()[:1] == b"{"


def uploaded_images() -> tuple[list[bytes], dict[str, Any]]:
    """The images of a request (a raw body, or the files of multipart field `image`) and its form fields."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        files = request.files.getlist("image")
        if not files:
            fields = ", ".join(sorted(request.files)) or "none"
            raise InvalidInput(f"multipart upload needs one or more files in field 'image'; got file fields: {fields}")
        return [f.read() for f in files], request.form.to_dict()
    # `curl --data-binary @digit.png` without -H sends form-urlencoded: take any untyped body as an image.
    if mimetype in IMAGE_MEDIA_TYPES or mimetype in UNTYPED_MEDIA_TYPES:
        return [request.get_data(cache=True)], {}
    accepted = "application/json, multipart/form-data (field 'image'), image/png|jpeg|gif|bmp|webp|tiff"
    raise UnsupportedMedia(f"unsupported Content-Type {mimetype or '(none)'}; send {accepted}")


@bp.post("/predict")
def predict() -> Response:
    mimetype = request.mimetype
    body = request.get_data(cache=True) if mimetype != "multipart/form-data" else b""
    digits = runtime().digits
    if _is_json(mimetype, body):
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise InvalidInput('the JSON body must be an object like {"model": "mlp", "inputs": [...]}')
        model = choose_model(payload)
        if "inputs" not in payload:
            raise InvalidInput('the JSON body needs "inputs": a list of instances')
        answer = digits.predict_inputs(model, payload["inputs"])
    else:
        images, form = uploaded_images()
        answer = digits.predict_images(choose_model(form), images, _wants_preprocessed(form))
    note(answer.served)
    return json_response(answer.body)
