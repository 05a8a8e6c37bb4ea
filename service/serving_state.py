"""Which versions of which models a server's processes should hold: {name: [versions]}.

One HTTP call lands on one gunicorn worker. That worker verifies a load or unload, then records it
here; every other worker asks `changed()` before each request (one stat) and follows the record.
`SharedServingState` keeps the record in a file all workers share; `LocalServingState` keeps it in
memory for a single process (the Flask test client, tools). The registry uses either the same way.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

ModelMap = dict[str, list[int]]


class ServingState(Protocol):
    def recorded(self) -> ModelMap | None:
        """The recorded map (None before the first record), from now on counted as seen."""

    def changed(self) -> bool:
        """True when another process recorded a change this one has not seen yet."""

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> ModelMap:
        """Apply `change` to the recorded map (`current` when none yet), store it and return it."""


class LocalServingState:
    """The record for a single process: nobody else can change it."""

    def __init__(self) -> None:
        self._models: ModelMap | None = None
        self._lock = threading.Lock()

    def recorded(self) -> ModelMap | None:
        return None if self._models is None else {name: list(v) for name, v in self._models.items()}

    def changed(self) -> bool:
        return False

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> ModelMap:
        with self._lock:
            models = {name: list(v) for name, v in (self._models if self._models is not None else current).items()}
            change(models)
            self._models = models
            return {name: list(v) for name, v in models.items()}


class SharedServingState:
    """The record in `<directory>/serving.json`: read-modify-write under an exclusive lock, atomic rename.

    Every record also bumps a generation counter in `serving.generation`, a file each process maps into
    memory. `changed()` compares it with the generation this process saw last: a memory read, not a
    syscall, on every request. So no request after a successful load is answered by the old version,
    and requests already running finish on theirs.
    """

    GENERATION = struct.Struct("q")

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "serving.json"
        self._lock_path = self.directory / "serving.lock"
        fd = os.open(self.directory / "serving.generation", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < self.GENERATION.size:
                os.ftruncate(fd, self.GENERATION.size)  # zero-filled; a second process doing it too changes nothing
            self._generation = mmap.mmap(fd, self.GENERATION.size)
        finally:
            os.close(fd)
        self._seen = -1

    def _stamp(self) -> int:
        return self.GENERATION.unpack_from(self._generation, 0)[0]

    def _read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None

    def recorded(self) -> ModelMap | None:
        # The stamp before the read: a change landing in between is seen (again) next time, never missed.
        self._seen = self._stamp()
        state = self._read()
        return None if state is None else state["models"]

    def changed(self) -> bool:
        return self._stamp() != self._seen

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> ModelMap:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read() or {"generation": 0, "models": current}
            models = {name: list(versions) for name, versions in state["models"].items()}
            change(models)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"generation": state["generation"] + 1, "models": models}))
            os.replace(tmp, self.path)
            self.GENERATION.pack_into(self._generation, 0, self._stamp() + 1)  # under the lock: no lost bump
            self._seen = self._stamp()
            return models


def serving_state(directory: str | Path | None) -> ServingState:
    """The shared record when the server's processes share `directory`, else the single-process one."""
    return SharedServingState(Path(directory)) if directory else LocalServingState()
