"""The open inference protocol over HTTP (KServe V2 / Triton): JSON and binary bodies in and out of the
data plane (service/core/dataplane.py), which answers every operation for both transports."""

from __future__ import annotations

import gzip
import zlib

from flask import Blueprint, Response, request

from service.auth import require_admin
from service.core.dataplane import DataPlane
from service.errors import BadRequest, PayloadTooLarge
from service.settings import Settings
from service.transport.http.api import json_response, runtime
from service.transport.http.body import body_view
from service.transport.http.request_log import note
from service.transport.http.v2_codec import encode_infer_response, parse_infer_request

bp = Blueprint("v2", __name__, url_prefix="/v2")


def core() -> DataPlane:
    return runtime().dataplane


def settings() -> Settings:
    return runtime().settings


@bp.get("")
@bp.get("/")  # as the protocol's REST document writes the path
def server_metadata() -> Response:
    return json_response(core().server_metadata())


# The protocol's prose gives health answers JSON bodies; Triton answers with empty ones. Clients (tritonclient
# among them) read the status code, which is the same either way: the bodies are the specification's.
@bp.get("/health/live")
def live() -> Response:
    return json_response({"live": True})


@bp.get("/health/ready")
def ready() -> Response:
    is_ready = core().server_ready()
    return json_response({"ready": is_ready}, 200 if is_ready else 503)


@bp.get("/models/<name>")
@bp.get("/models/<name>/versions/<version>")
def metadata(name: str, version: str | None = None) -> Response:
    return json_response(core().model_metadata(name, version))


@bp.get("/models/<name>/ready")
@bp.get("/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    core().model(name, version)  # 404, naming what exists, when unknown
    return json_response({"name": name, "ready": True})


@bp.get("/models/<name>/config")
@bp.get("/models/<name>/versions/<version>/config")
def config(name: str, version: str | None = None) -> Response:
    return json_response(core().model_config(name, version))


@bp.get("/models/stats")
@bp.get("/models/<name>/stats")
@bp.get("/models/<name>/versions/<version>/stats")
def stats(name: str | None = None, version: str | None = None) -> Response:
    """Triton's statistics extension: every loaded version of every model, of one model, or one version."""
    return json_response({"model_stats": core().statistics(name, version)})


def _request_body() -> memoryview | bytes:
    """The body (a view of it, where the server holds it whole), decompressed when the client sent
    Content-Encoding gzip or deflate (bounded in size)."""
    body = body_view(request)
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding in ("", "identity"):
        return body
    limit = settings().max_body_bytes
    try:
        if encoding == "gzip":
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            decompressor = zlib.decompressobj()
        else:
            raise BadRequest(f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or none")
        data = decompressor.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadRequest(f"cannot decompress the {encoding} body: {exc}") from None
    if len(data) > limit:
        raise PayloadTooLarge(f"decompressed body over the limit of {limit} bytes")
    return data


@bp.post("/models/<name>/infer")
@bp.post("/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    model = core().model(name, version)
    parsed = parse_infer_request(_request_body(), request.headers.get("Inference-Header-Content-Length"), model)
    inference = core().infer(model, parsed.inputs, parsed.outputs)
    note(inference.served)
    body, header_length = encode_infer_response(model, parsed, inference.outputs)
    response = Response(mimetype="application/json" if header_length is None else "application/octet-stream")
    if header_length is not None:
        response.headers["Inference-Header-Content-Length"] = str(header_length)  # of the uncompressed body
    response.set_data(_compress_for_client(body, response))
    return response


def _compress_for_client(body: bytes, response: Response) -> bytes:
    """gzip or deflate the body when the client asks for it (tritonclient's response_compression_algorithm)."""
    response.vary.add("Accept-Encoding")
    # werkzeug honours q-values: "gzip;q=0" refuses gzip, and the client's preference wins among the two.
    encoding = request.accept_encodings.best_match(["gzip", "deflate"])
    if encoding == "gzip":
        response.headers["Content-Encoding"] = "gzip"
        return gzip.compress(body, compresslevel=1)
    if encoding == "deflate":
        response.headers["Content-Encoding"] = "deflate"
        return zlib.compress(body, 1)
    return body


# -- model repository extension: protected by ADMIN_TOKEN ------------------------------------------
def _require_admin() -> None:
    require_admin(settings().admin_token, request.headers.get("Authorization", ""), "header")


def _load_version_parameter() -> object:
    body = request.get_json(silent=True, force=True)
    parameters = body.get("parameters") if isinstance(body, dict) else None
    return parameters.get("version") if isinstance(parameters, dict) else None


@bp.post("/repository/index")
def repository_index() -> Response:
    _require_admin()
    body = request.get_json(silent=True, force=True)
    ready_only = isinstance(body, dict) and body.get("ready") is True  # the protocol's {"ready": true}: loaded only
    return json_response(core().repository_index(ready_only))


@bp.post("/repository/models/<name>/load")
def load(name: str) -> Response:
    _require_admin()
    loaded = core().load(name, _load_version_parameter())
    return json_response(
        {"name": loaded.name, "version": loaded.version, "state": "READY", "provider": loaded.provider}
    )


@bp.post("/repository/models/<name>/unload")
def unload(name: str) -> Response:
    _require_admin()
    core().unload(name)
    return json_response({"name": name, "state": "UNAVAILABLE"})
