"""The Flask app factory: settings, models, data plane, hooks and the API blueprints."""

from __future__ import annotations

import logging
import os

from flask import Flask

from service.dataplane import DataPlane
from service.errors import register_error_handlers
from service.observability import configure_logging, install_request_hooks
from service.protocol_core import ProtocolCore
from service.registry import ModelRegistry, registry_from_settings, start_polling
from service.security import install_security, parse_list
from service.settings import Settings


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
    if registry is None:
        registry = registry_from_settings(settings)
        registry.load_all()
        if settings.model_poll_seconds:
            start_polling(registry, settings.model_poll_seconds)
    app.extensions["registry"] = registry
    app.extensions["dataplane"] = DataPlane(settings.max_instances, settings.batch_policies)
    app.extensions["protocol"] = ProtocolCore(settings, registry, app.extensions["dataplane"])
    install_request_hooks(app)
    install_security(app, parse_list(settings.api_keys), parse_list(settings.cors_origins))
    app.before_request(registry.sync)  # follow loads and unloads made through another worker
    register_error_handlers(app)

    from service.api import health, meta, page, predict, read, v2

    for blueprint in (health.bp, predict.bp, read.bp, v2.bp, meta.bp, page.bp):
        app.register_blueprint(blueprint)
    logging.getLogger("service").info(
        "worker %d ready: %s",
        os.getpid(),
        ", ".join(f"{name} v{registry.get(name).version}" for name in registry.names())
        if registry.ready
        else "no models",
    )
    return app
