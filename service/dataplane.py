"""The data plane: the one place that runs a model version, for every API.

`/predict` (JSON and images), the open inference protocol and anything added later hand it a model
version and named input arrays; it checks the batch against the instance limit, runs the session,
times it, records the inference metrics and returns the named outputs. No view runs or times a
session itself.
"""

from __future__ import annotations

import time

import numpy as np

from service import observability
from service.errors import PayloadTooLarge
from service.model import ModelVersion


class DataPlane:
    def __init__(self, max_instances: int) -> None:
        self.max_instances = max_instances

    def infer(
        self, model: ModelVersion, inputs: dict[str, np.ndarray], outputs: list[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run `inputs` ({input name: batch}) through `model`; returns {output name: batch}, all outputs by default."""
        batch = len(next(iter(inputs.values())))
        if batch > self.max_instances:  # numbers, pixel arrays, images or tensor rows alike
            raise PayloadTooLarge(f"{batch} instances in one request; the limit is {self.max_instances}")
        names = outputs or [spec.name for spec in model.outputs]
        started = time.perf_counter()
        results = model.run(inputs, names)
        observability.record_inference(model.name, model.version, batch, time.perf_counter() - started)
        return dict(zip(names, results, strict=True))

    def infer_one(self, model: ModelVersion, batch: np.ndarray) -> np.ndarray:
        """A single-input model's first output for `batch`."""
        return self.infer(model, {model.input.name: batch}, [model.outputs[0].name])[model.outputs[0].name]
