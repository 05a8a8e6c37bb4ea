"""The composition root: one function builds the runtime that every transport serves.

The HTTP app factory (service/transport/http/app.py) and the gRPC server (service/transport/grpc/server.py)
both call `build_runtime`: the registry with its models loaded and warmed, the model runner, and the
operations over them (the open inference protocol's data plane, and `/predict` and `/read`'s digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.core.dataplane import DataPlane
from service.core.digits import Digits
from service.core.feedback import FeedbackStore
from service.core.registry import ModelRegistry, registry_from_settings, start_polling
from service.core.runner import ModelRunner
from service.settings import Settings


@dataclass(frozen=True)
class Runtime:
    """What a serving process holds: its settings, models, the runner and the operations every transport calls."""

    settings: Settings
    registry: ModelRegistry
    runner: ModelRunner
    dataplane: DataPlane
    digits: Digits
    feedback: FeedbackStore | None = None  # corrections (POST /feedback), when FEEDBACK_DIR is set


def build_runtime(settings: Settings, registry: ModelRegistry | None = None, poll: bool = True) -> Runtime:
    """The runtime for `settings`: a registry loaded from MODEL_DIR unless one is given, polled for new versions
    when MODEL_POLL_SECONDS asks for it (and `poll` allows: the gRPC server follows the HTTP workers' loads)."""
    if registry is None:
        registry = registry_from_settings(settings)
        registry.load_all()
        if poll and settings.model_poll_seconds:
            start_polling(registry, settings.model_poll_seconds)
    runner = ModelRunner(settings.max_instances, settings.batch_policies)
    feedback = None
    if settings.feedback_dir:
        feedback = FeedbackStore(
            Path(settings.feedback_dir),
            settings.feedback_instance_name,
            settings.feedback_max_items,
            settings.feedback_max_bytes,
        )
    return Runtime(
        settings,
        registry,
        runner,
        DataPlane(settings, registry, runner),
        Digits(settings, registry, runner),
        feedback,
    )
