"""digit-serve: MNIST and linear models behind HTTP with onnxruntime. Never imports TensorFlow."""

from __future__ import annotations

import logging

from flask import Flask

from service.errors import register_error_handlers
from service.registry import ModelRegistry
from service.settings import Settings

__version__ = "0.1.0"


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """The app factory: settings from the environment unless given; models loaded and warmed before return."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_body_bytes,
        MAX_FORM_PARTS=settings.max_instances + 16,
    )
    if registry is None:
        registry = ModelRegistry(settings.model_dir, settings.device, settings.session_threads)
        registry.load_all()
    app.extensions["registry"] = registry
    register_error_handlers(app)

    from service.api import health, predict

    app.register_blueprint(health.bp)
    app.register_blueprint(predict.bp)
    return app
