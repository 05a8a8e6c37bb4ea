"""The model runner: the one place that runs a model version, for every API.

`/predict` (JSON and images), `/read`, the open inference protocol over both transports and anything
added later hand it a model version and named input arrays; it checks the batch against the instance
limit, runs the session (through the model's adaptive batcher where BATCHING names it), times it,
records the inference metrics and the per version statistics (service/core/statistics.py) and returns
the named outputs. No view runs or times a session itself, and nothing here knows which transport or
request asked: the caller records that (service/core/served.py).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from service import observability
from service.core import statistics
from service.core.batching import Batcher
from service.core.model import ModelVersion
from service.errors import PayloadTooLarge
from service.settings import BatchPolicy


class ModelRunner:
    def __init__(self, max_instances: int, batching: dict[str, BatchPolicy] | None = None) -> None:
        self.max_instances = max_instances
        self.batching = batching or {}
        self._batchers: dict[int, Batcher] = {}  # by id() of the ModelVersion they run
        self._lock = threading.Lock()

    def _batcher(self, model: ModelVersion, policy: BatchPolicy) -> Batcher:
        with self._lock:
            batcher = self._batchers.get(id(model))
            if batcher is None or batcher.model is not model:
                batcher = self._batchers[id(model)] = Batcher(model, policy, self._forget)
            return batcher

    def _forget(self, batcher: Batcher) -> None:
        with self._lock:
            if self._batchers.get(id(batcher.model)) is batcher:
                del self._batchers[id(batcher.model)]

    def infer(
        self, model: ModelVersion, inputs: dict[str, np.ndarray], outputs: list[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run `inputs` ({input name: batch}) through `model`; returns {output name: batch}, all outputs by default."""
        batch = len(next(iter(inputs.values())))
        entered = time.perf_counter()
        try:
            results = self._infer(model, inputs, outputs, batch, entered)
        except Exception:
            statistics.record(model.name, model.version, batch, time.perf_counter() - entered, ok=False)
            raise
        statistics.record(model.name, model.version, batch, time.perf_counter() - entered, ok=True)
        return results

    def _infer(
        self, model: ModelVersion, inputs: dict[str, np.ndarray], outputs: list[str] | None, batch: int, entered: float
    ) -> dict[str, np.ndarray]:
        if batch > self.max_instances:  # numbers, pixel arrays, images or tensor rows alike
            raise PayloadTooLarge(f"{batch} instances in one request; the limit is {self.max_instances}")
        names = outputs or [spec.name for spec in model.outputs]
        observability.record_instances(model.name, batch)
        policy = self.batching.get(model.name)
        if policy is not None and batch < policy.max_batch_size:
            result = self._batcher(model, policy).submit(inputs, names)
            if result is not None:
                return result
        started = time.perf_counter()
        results = model.run(inputs, names)
        ran = time.perf_counter()
        observability.record_run(model.name, model.version, ran - started)
        answer = dict(zip(names, results, strict=True))
        statistics.record_execution(model.name, model.version, started - entered, time.perf_counter() - ran)
        return answer

    def infer_one(self, model: ModelVersion, batch: np.ndarray) -> np.ndarray:
        """A single-input model's first output for `batch`."""
        output = model.outputs[0].name
        return self.infer(model, {model.input.name: batch}, [output])[output]
