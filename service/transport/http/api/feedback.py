"""POST /feedback: a correction of a reading, stored for the fine-tune; GET /feedback/stats; DELETE /feedback/<id>.

The image comes as `/predict` and `/read` take it (a raw body, or multipart field `image`), what it shows as
`label` (a digit) or `text` (a number as /read reads it), and optionally the `request_id` of the answer it
corrects and the `model` and `version` that gave it, as form fields or query parameters. Off (403) unless
FEEDBACK_DIR is set; under API_KEYS like every prediction (service/transport/http/security.py).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from service import observability
from service.core.feedback import FeedbackStore, correction
from service.errors import BadRequest, Forbidden, NotFound, ServiceError
from service.reading.decode import decode_image
from service.transport.http.api import json_response, runtime
from service.transport.http.api.predict import uploaded_images

bp = Blueprint("feedback", __name__)


def store() -> FeedbackStore:
    found = runtime().feedback
    if found is None:
        raise Forbidden("corrections are not collected here: the server needs FEEDBACK_DIR (docs/operations.md)")
    return found


@bp.post("/feedback")
def add() -> Response:
    try:
        feedback = store()
        images, form = uploaded_images()
        if len(images) != 1:
            raise BadRequest(f"a correction holds one image; got {len(images)} in field 'image'")
        decode_image(images[0], runtime().settings.max_image_pixels)  # a correction is of an image the service reads
        fields = {**request.args.to_dict(), **form}
        item = correction(
            images[0],
            fields.get("label"),
            fields.get("text"),
            fields.get("request_id"),
            fields.get("model"),
            fields.get("version"),
        )
        stored = feedback.add(item)
    except ServiceError as exc:
        observability.record_feedback(exc.code)
        raise
    observability.record_feedback("duplicate" if stored.duplicate else "stored")
    body = {"id": stored.id, "duplicate": stored.duplicate, "kind": item.kind, "label": item.label}
    return json_response(body, 200 if stored.duplicate else 201)


@bp.get("/feedback/stats")
def stats() -> Response:
    return json_response({"instance": runtime().settings.feedback_instance_name, **store().stats()})


@bp.delete("/feedback/<item_id>")
def delete(item_id: str) -> Response:
    if not item_id.isdigit():
        raise BadRequest(f"a correction's id is a whole number (as POST /feedback answered it), got {item_id[:40]!r}")
    if not store().delete(int(item_id)):
        raise NotFound(f"this instance holds no correction {item_id}")
    return json_response({"id": int(item_id), "deleted": True})
