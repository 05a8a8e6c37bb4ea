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
    """Reading a record and marking it seen are separate steps: a process marks a generation seen only
    once it holds what that generation names, so that its other threads, which ask `changed()`, wait for
    the change (on the registry's lock) instead of serving what it replaces."""

    def read(self) -> tuple[ModelMap | None, int]:
        """The recorded map (None before the first record) and its generation."""

    def changed(self) -> bool:
        """True when the record holds a generation this process has not marked seen."""

    def mark_seen(self, generation: int) -> None:
        """This process now holds what `generation` names."""

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> tuple[ModelMap, int]:
        """Apply `change` to the recorded map (`current` when none yet), store it; the map and its generation."""


class LocalServingState:
    """The record for a single process: nobody else can change it."""

    def __init__(self) -> None:
        self._models: ModelMap | None = None
        self._lock = threading.Lock()

    def read(self) -> tuple[ModelMap | None, int]:
        return (None if self._models is None else {name: list(v) for name, v in self._models.items()}), 0

    def changed(self) -> bool:
        return False

    def mark_seen(self, generation: int) -> None:
        pass

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> tuple[ModelMap, int]:
        with self._lock:
            models = {name: list(v) for name, v in (self._models if self._models is not None else current).items()}
            change(models)
            self._models = models
            return {name: list(v) for name, v in models.items()}, 0


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

    def read(self) -> tuple[ModelMap | None, int]:
        # The generation before the file: a change landing in between is followed (again) next time, never missed.
        generation = self._stamp()
        state = self._read()
        return (None if state is None else state["models"]), generation

    def changed(self) -> bool:
        return self._stamp() != self._seen

    def mark_seen(self, generation: int) -> None:
        self._seen = generation

    def record(self, change: Callable[[ModelMap], object], current: ModelMap) -> tuple[ModelMap, int]:
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._read() or {"generation": 0, "models": current}
            models = {name: list(versions) for name, versions in state["models"].items()}
            change(models)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"generation": state["generation"] + 1, "models": models}))
            os.replace(tmp, self.path)
            generation = self._stamp() + 1
            self.GENERATION.pack_into(self._generation, 0, generation)  # under the lock: no bump is lost
            return models, generation


def serving_state(directory: str | Path | None) -> ServingState:
    """The shared record when the server's processes share `directory`, else the single-process one."""
    return SharedServingState(Path(directory)) if directory else LocalServingState()
