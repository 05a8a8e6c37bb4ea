"""POST /predict: JSON numbers, multipart image uploads, or a raw image body."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, Response, request

from service import observability, reading
from service.api import dataplane, json_response, registry, settings
from service.errors import InvalidInput, UnsupportedMedia
from service.model import ModelVersion
from service.preprocess import IMAGE_MEDIA_TYPES, mnist_from_image
from service.validation import image_batch, number_batch, parse_json

bp = Blueprint("predict", __name__)

JSON_MEDIA_TYPES = {"application/json", "text/plain", "application/x-www-form-urlencoded", ""}
UNTYPED_MEDIA_TYPES = {"", "application/octet-stream", "application/x-www-form-urlencoded"}
TRUE_WORDS = {"1", "true", "yes", "on"}


def choose_model(source: dict[str, Any]) -> ModelVersion:
    """The version a request names (`model`, `version` in the body or form, else the query), or the default."""
    name = source.get("model") or request.args.get("model") or settings().default_model
    version = source.get("version", request.args.get("version"))
    if not isinstance(name, str):
        raise InvalidInput(f"model must be a model name (a string), got {name!r}")
    return registry().get(name, version)


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


def checker() -> ModelVersion | None:
    """The digit-or-not model that answers is_digit, when the repository has it."""
    return reading.digit_checker(registry(), settings().digit_check_model)


def _run_images(images: list[bytes], model: ModelVersion) -> tuple[np.ndarray, np.ndarray]:
    if model.task != "classification":
        raise InvalidInput(f'model {model.name!r} takes numbers, not images; send JSON {{"inputs": [x, ...]}}')
    digits = np.stack([mnist_from_image(data, settings().max_image_pixels) for data in images])
    observability.record_images(len(digits))
    return reading.classify(dataplane(), model, digits), digits


@bp.post("/predict")
def predict() -> Response:
    mimetype = request.mimetype
    body = request.get_data(cache=True) if mimetype != "multipart/form-data" else b""
    preprocessed = None
    pixels: np.ndarray | None
    if _is_json(mimetype, body):
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise InvalidInput('the JSON body must be an object like {"model": "mlp", "inputs": [...]}')
        model = choose_model(payload)
        if "inputs" not in payload:
            raise InvalidInput('the JSON body needs "inputs": a list of instances')
        if model.task == "regression":
            batch = number_batch(payload["inputs"])
        else:
            batch = image_batch(payload["inputs"], model.input.shape)
        outputs = dataplane().infer_one(model, batch)
        pixels = None  # tensors the client prepared, as for /v2: is_digit is for the images the service decodes
    else:
        images, payload = uploaded_images()
        model = choose_model(payload)
        outputs, pixels = _run_images(images, model)
        if _wants_preprocessed(payload):
            preprocessed = np.round(pixels.astype(np.float64), 4).tolist()
    if model.task == "regression":
        # float32 carries about 7 significant digits; print no more than that.
        predictions: list = [float(f"{value:.7g}") for value in outputs[:, 0].tolist()]
    else:
        verdicts = None if pixels is None else reading.check_digits(dataplane(), checker(), pixels)
        predictions = reading.predictions(outputs, model.labels, verdicts)
    body_out: dict[str, Any] = {"model": model.name, "version": model.version, "predictions": predictions}
    if preprocessed is not None:
        body_out["preprocessed"] = preprocessed
    return json_response(body_out)
