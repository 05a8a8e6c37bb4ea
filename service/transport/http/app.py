"""The Flask app factory: the runtime (service/bootstrap.py), the request hooks and the API blueprints."""

from __future__ import annotations

import logging
import os

from flask import Flask

from service.auth import parse_list
from service.bootstrap import Runtime, build_runtime
from service.core.registry import ModelRegistry
from service.observability import configure_logging
from service.settings import Settings
from service.transport.http.errors import register_error_handlers
from service.transport.http.hooks import install_hooks
from service.transport.http.limit import ConcurrencyLimit
from service.transport.http.request_log import finish_request, start_request
from service.transport.http.security import Security


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """The app factory: settings from the environment unless given; models loaded and warmed before return."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        MAX_FORM_PARTS=settings.max_instances + 16,
        DRAIN_FILE=settings.drain_file,
    )
    runtime: Runtime = build_runtime(settings, registry)
    app.extensions["runtime"] = runtime
    security = Security(parse_list(settings.api_keys), parse_list(settings.cors_origins))
    sync = runtime.registry.sync  # follow loads and unloads made through another worker
    install_hooks(
        app,
        before=[start_request, security.require_api_key, lambda req, state: sync()],
        after=[security.add_headers, finish_request],
    )
    register_error_handlers(app)

    from service.transport.http.api import feedback, health, meta, page, predict, read, v2

    for blueprint in (health.bp, predict.bp, read.bp, feedback.bp, v2.bp, meta.bp, page.bp):
        app.register_blueprint(blueprint)
    if settings.worker_class == "gthread":  # stock gunicorn: the limit the service's own worker keeps (limit.py)
        app.wsgi_app = ConcurrencyLimit(  # type: ignore[method-assign]
            app.wsgi_app, settings.threads, settings.max_queue, settings.max_body_bytes
        )
    registry = runtime.registry
    logging.getLogger("service").info(
        "worker %d ready: %s",
        os.getpid(),
        ", ".join(f"{name} v{registry.get(name).version}" for name in registry.names())
        if registry.ready
        else "no models",
    )
    return app
