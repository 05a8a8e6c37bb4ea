"""POST /feedback: a correction of a reading, stored for the fine-tune; GET /feedback/stats; DELETE /feedback/<id>.

The image comes as `/predict` and `/read` take it (a raw body, or multipart field `image`), what it shows as
`label` (a digit) or `text` (a number as /read reads it), and optionally the `request_id` of the answer it
corrects and the `model` and `version` that gave it, as form fields or query parameters, each at most once.
The image kept is what the service analyses, re-encoded (service/reading/keep.py); one that `/predict` or
`/read` would refuse is refused here too. Off (403) unless FEEDBACK_DIR is set.

Who may do what: contributing a correction needs what `/predict` needs (an API key, under API_KEYS); reading the
stats (every number's text, which is personal data) and deleting need the admin token (ADMIN_TOKEN), as model
control does.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from service import observability
from service.auth import require_admin
from service.core.feedback import FeedbackStore, correction
from service.core.validation import whole_number
from service.errors import BadRequest, Forbidden, NotFound, ServiceError
from service.reading import budget
from service.reading.keep import kept_image
from service.transport.http.api import json_response, runtime
from service.transport.http.api.predict import uploaded_images

bp = Blueprint("feedback", __name__)
FIELDS = ("label", "text", "request_id", "model", "version")


def store() -> FeedbackStore:
    found = runtime().feedback
    if found is None:
        raise Forbidden("corrections are not collected here: the server needs FEEDBACK_DIR (docs/operations.md)")
    return found


def _fields(form: dict[str, list[str]]) -> dict[str, str]:
    """The correction's fields from the query and the form; each at most once, in either."""
    found: dict[str, str] = {}
    for name in FIELDS:
        values = request.args.getlist(name) + form.get(name, [])
        if len(values) > 1:
            raise BadRequest(f"'{name}' was given {len(values)} times; a correction gives it once")
        if values:
            found[name] = values[0]
    return found


def _admin() -> None:
    require_admin(
        runtime().settings.admin_token,
        request.headers.get("Authorization", ""),
        "header",
        "reading or deleting the stored corrections",
    )


@bp.post("/feedback")
def add() -> Response:
    try:
        feedback = store()
        images, _ = uploaded_images()
        if len(images) != 1:
            raise BadRequest(f"a correction holds one image; got {len(images)} in field 'image'")
        form = request.form.to_dict(flat=False) if request.mimetype == "multipart/form-data" else {}
        fields = _fields(form)
        item = correction(
            b"",
            fields.get("label"),
            fields.get("text"),
            fields.get("request_id"),
            fields.get("model"),
            fields.get("version"),
        )
        settings = runtime().settings
        with budget.time_budget(settings.read_budget_s):
            image = kept_image(images[0], settings.max_image_pixels, number=item.kind == "number")
        stored = feedback.add(item.with_image(image))
    except ServiceError as exc:
        observability.record_feedback(exc.code)
        raise
    observability.record_feedback("duplicate" if stored.duplicate else "stored")
    body = {"id": stored.id, "duplicate": stored.duplicate, "kind": item.kind, "label": item.label}
    return json_response(body, 200 if stored.duplicate else 201)


@bp.get("/feedback/stats")
def stats() -> Response:
    _admin()
    return json_response({"instance": runtime().settings.feedback_instance_name, **store().stats()})


@bp.delete("/feedback/<item_id>")
def delete(item_id: str) -> Response:
    _admin()
    number = whole_number(item_id)
    if number is None:
        raise BadRequest(f"a correction's id is a whole number (as POST /feedback answered it), got {item_id[:40]!r}")
    if not store().delete(number):
        raise NotFound(f"this instance holds no correction {number}")
    return json_response({"id": number, "deleted": True})
