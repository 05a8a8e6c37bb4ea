"""Adaptive batching: concurrent requests for one model version run as one onnxruntime call.

As in Triton's dynamic batcher: a request waits in a queue at most `max_delay_s` for others to join it,
and a batch closes early once it holds `max_batch_size` rows. Each caller gets exactly its own rows
back. Requests only share a batch when they ask for the same outputs with the same row shape and type;
a request larger than a whole batch runs on its own. If a shared run fails, each request in it is run
alone, so a request that cannot run fails alone. A caller that waits longer than `timeout_s` gets a
503 and its rows are dropped from any batch not yet started.

One scheduler thread per model version and process, started on first use (after gunicorn's fork)
and ended after `IDLE_EXIT_S` without requests, so an unloaded version's session is not kept alive.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from service import observability
from service.core import statistics
from service.core.model import ModelVersion
from service.errors import ServiceUnavailable
from service.settings import BatchPolicy

IDLE_EXIT_S = 10.0
Outputs = dict[str, np.ndarray]


@dataclass(eq=False)
class _Pending:
    inputs: dict[str, np.ndarray]
    outputs: list[str]
    rows: int
    key: tuple
    queued_at: float = field(default_factory=time.perf_counter)
    done: threading.Event = field(default_factory=threading.Event)
    result: Outputs | None = None
    error: BaseException | None = None
    abandoned: bool = False


def _key(inputs: dict[str, np.ndarray], outputs: list[str]) -> tuple:
    return tuple(outputs), tuple((name, array.shape[1:], array.dtype.str) for name, array in sorted(inputs.items()))


class Batcher:
    """Gathers concurrent calls for one model version into shared session runs."""

    def __init__(self, model: ModelVersion, policy: BatchPolicy, on_exit: Callable[[Batcher], None]) -> None:
        self.model = model
        self.policy = policy
        self._on_exit = on_exit
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._serve, name=f"batcher-{model.name}-{model.version}", daemon=True)
        self._thread.start()

    def submit(self, inputs: dict[str, np.ndarray], outputs: list[str]) -> Outputs | None:
        """This request's outputs, run in a batch; None when the scheduler has just exited (run it directly)."""
        rows = len(next(iter(inputs.values())))
        pending = _Pending(inputs, outputs, rows, _key(inputs, outputs))
        with self._ready:
            if not self._running:
                return None
            self._queue.append(pending)
            self._ready.notify()
        if not pending.done.wait(self.policy.timeout_s):
            pending.abandoned = True
            raise ServiceUnavailable(
                f"model {self.model.name!r} is overloaded: no batch ran this request within "
                f"{self.policy.timeout_s:g} s; retry later"
            )
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _take_batch(self) -> list[_Pending] | None:
        """The next batch: the oldest request and those that can join it, once full or its delay has passed."""
        with self._ready:
            while not self._queue:
                if not self._ready.wait(IDLE_EXIT_S) and not self._queue:
                    self._running = False
                    return None
            first = self._queue[0]
            deadline = first.queued_at + self.policy.max_delay_s
            while True:
                rows = sum(p.rows for p in self._queue if p.key == first.key)
                remaining = deadline - time.perf_counter()
                if rows >= self.policy.max_batch_size or remaining <= 0:
                    break
                self._ready.wait(remaining)
            batch: list[_Pending] = []
            rows, kept = 0, deque[_Pending]()
            while self._queue:
                pending = self._queue.popleft()
                if pending.abandoned:
                    continue
                if pending.key == first.key and rows + pending.rows <= self.policy.max_batch_size:
                    batch.append(pending)
                    rows += pending.rows
                else:
                    kept.append(pending)
            self._queue = kept
            return batch

    def _serve(self) -> None:
        try:
            while (batch := self._take_batch()) is not None:
                if batch:
                    self._run(batch)
        finally:
            self._on_exit(self)

    def _run(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        observability.record_batch(
            self.model.name,
            self.model.version,
            sum(p.rows for p in batch),
            [started - pending.queued_at for pending in batch],
        )
        try:
            if len(batch) == 1:
                merged = batch[0].inputs
            else:
                merged = {name: np.concatenate([p.inputs[name] for p in batch]) for name in batch[0].inputs}
            prepared = time.perf_counter()
            results = self.model.run(merged, batch[0].outputs)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own classes
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
            else:  # run each alone, so that only a request that cannot run fails
                for pending in batch:
                    self._run([pending])
            return
        ran = time.perf_counter()
        observability.record_run(self.model.name, self.model.version, ran - prepared)
        offset = 0
        for pending in batch:
            pending.result = {
                name: array[offset : offset + pending.rows]
                for name, array in zip(batch[0].outputs, results, strict=True)
            }
            offset += pending.rows
        statistics.record_execution(self.model.name, self.model.version, prepared - started, time.perf_counter() - ran)
        for pending in batch:
            pending.done.set()
