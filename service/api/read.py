"""POST /read: the number in one image (a raw image body, or a multipart upload with field `image`)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from service import observability, reading
from service.api import dataplane, json_response, settings
from service.api.predict import checker, choose_model, uploaded_images
from service.errors import BadRequest, UnsupportedMedia
from service.preprocess import marks_from_image

bp = Blueprint("read", __name__)


@bp.post("/read")
def read() -> Response:
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        raise UnsupportedMedia("/read takes an image: a raw image body or multipart field 'image', not JSON")
    images, form = uploaded_images()
    if len(images) != 1:
        raise BadRequest(f"/read reads one image per request; got {len(images)} in field 'image'")
    model = reading.reader(choose_model(form))
    marks = marks_from_image(images[0], settings().max_image_pixels)
    observability.record_images(1)
    return json_response(reading.read(dataplane(), model, checker(), marks))
