"""POST /read: the number in one image (a raw image body, or a multipart upload with field `image`)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from service.errors import BadRequest, UnsupportedMedia
from service.transport.http.api import json_response, runtime
from service.transport.http.api.predict import choose_model, uploaded_images
from service.transport.http.request_log import note

bp = Blueprint("read", __name__)


@bp.post("/read")
def read() -> Response:
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        raise UnsupportedMedia("/read takes an image: a raw image body or multipart field 'image', not JSON")
    images, form = uploaded_images()
    if len(images) != 1:
        raise BadRequest(f"/read reads one image per request; got {len(images)} in field 'image'")
    answer = runtime().digits.read(choose_model(form), images[0])
    note(answer.served)
    return json_response(answer.body)
