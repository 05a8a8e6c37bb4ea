"""The drawing page at / and its static files (service/transport/http/web): plain HTML, CSS and JavaScript, no CDN."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

bp = Blueprint("page", __name__)
WEB = Path(__file__).resolve().parent.parent / "web"
ASSETS = {"app.js", "style.css"}


@bp.get("/")
def index() -> Response:
    # Revalidated on every visit (ETag): a new release's page is seen at once, an unchanged one costs a 304.
    response = send_from_directory(WEB, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/web/<filename>")
def asset(filename: str) -> Response:
    if filename not in ASSETS:
        abort(404, description=f"no page asset {filename!r}")
    return send_from_directory(WEB, filename, max_age=300)
