"""The open inference protocol's operations, once, for both transports: what Seldon MLServer calls its DataPlane.

The HTTP views (service/transport/http/api/v2.py) and the gRPC servicer (service/transport/grpc/servicer.py)
only convert between their wire format and these calls: server metadata and readiness, model metadata,
readiness and configuration, statistics, inference (with the outputs a request names, checked here, and each
output as the protocol sends it), the repository index, load and unload. The tensor rules they rely on live in
service/core/tensors.py; what a model version is and how it runs, in the registry and the model runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.core import statistics, tensors
from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, serving_status
from service.core.runner import ModelRunner
from service.core.served import Served
from service.core.tensors import OutputTensor
from service.core.validation import parse_version
from service.errors import BadRequest, ModelNotFound, ServiceUnavailable
from service.settings import Settings
from service.version import __version__


@dataclass(frozen=True)
class Inference:
    """An inference's outputs, in the request's order, and what it ran."""

    outputs: list[OutputTensor]
    served: Served


class DataPlane:
    def __init__(self, settings: Settings, registry: ModelRegistry, runner: ModelRunner) -> None:
        self.settings = settings
        self.registry = registry
        self.runner = runner

    # -- server -------------------------------------------------------------------------------------
    def server_metadata(self) -> dict:
        return {"name": "digit-serve", "version": __version__, "extensions": tensors.EXTENSIONS}

    def server_ready(self) -> bool:
        """Every model loaded, none failed at start, not draining (the same answer as /readyz)."""
        return serving_status(self.registry, self.settings.drain_file)[0] == "ready"

    # -- models -------------------------------------------------------------------------------------
    def model(self, name: str, version: str | None = None) -> ModelVersion:
        """The version a request names (the newest when none); ModelNotFound names what exists."""
        return self.registry.get(name, version or None)

    def model_ready(self, name: str, version: str | None = None) -> bool:
        try:
            self.model(name, version)
        except ModelNotFound:
            return False
        return True

    def model_metadata(self, name: str, version: str | None = None) -> dict:
        return tensors.model_metadata(self.model(name, version), self.registry.versions(name))

    def model_config(self, name: str, version: str | None = None) -> dict:
        return tensors.model_config(self.model(name, version), self.settings.max_instances)

    def statistics(self, name: str | None = None, version: str | None = None) -> list[dict]:
        return statistics.model_statistics(statistics.scope(self.registry, name or None, version or None))

    # -- inference ----------------------------------------------------------------------------------
    def infer(self, model: ModelVersion, inputs: dict[str, np.ndarray], requested: Sequence[object]) -> Inference:
        """Run checked inputs; the outputs `requested` (all when none), each checked and in the request's order."""
        if not self.registry.ready:
            raise ServiceUnavailable("the server is not ready yet")
        names = tensors.select_outputs(model, requested)
        results = self.runner.infer(model, inputs, names)
        specs = {spec.name: spec for spec in model.outputs}
        found = []
        for name in names:
            values = np.ascontiguousarray(results[name], dtype=np.dtype(specs[name].dtype).newbyteorder("<"))
            found.append(OutputTensor(name, specs[name].datatype, list(values.shape), values))
        return Inference(found, Served(model.name, model.version, len(next(iter(inputs.values())))))

    # -- the model repository (the transports check ADMIN_TOKEN first) ----------------------------------
    def repository_index(self, ready_only: bool = False) -> list[dict]:
        entries = tensors.repository_index(self.registry.discover(), self.registry.current_map())
        return [entry for entry in entries if entry["state"] == "READY"] if ready_only else entries

    def load(self, name: str, version: object = None) -> ModelVersion:
        """Verify and load `version` (a protocol parameter: 3 or "3"), or the newest on disk when None."""
        number = None
        if version is not None:
            number = parse_version(version)
            if number is None:
                raise BadRequest(f"parameters.version must be an integer, got {version!r}")
        return self.registry.load(name, number)

    def unload(self, name: str) -> None:
        self.registry.unload(name)
