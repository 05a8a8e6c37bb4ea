"""The model repository's lifecycle in one process: discover versions on disk, load, unload, follow, choose.

Layout: <model_dir>/<name>/<version>/model.onnx + model.json. Each worker owns one registry. What the
server's processes should hold is recorded in a ServingState (service/core/serving_state.py): a worker that
loads or unloads records it, and every worker follows the record with `sync()` before each request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from service import observability
from service.core.model import ModelVersion, choose_providers, load_version
from service.core.serving_state import LocalServingState, ModelMap, ServingState, serving_state
from service.core.validation import WHOLE_NUMBER, parse_version
from service.errors import ModelLoadError, ModelNotFound
from service.settings import Settings

log = logging.getLogger("service.core.registry")

Loader = Callable[[Path], ModelVersion]


def discover(model_dir: Path) -> ModelMap:
    """Model names and their version numbers on disk (folders holding a model.json)."""
    found: ModelMap = {}
    if not model_dir.is_dir():
        return found
    for model in sorted(p for p in model_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        versions = sorted(
            int(v.name)
            for v in model.iterdir()
            if v.is_dir() and WHOLE_NUMBER.fullmatch(v.name) and (v / "model.json").is_file()
        )
        if versions:
            found[model.name] = versions
    return found


class ModelRegistry:
    """Every model in the repository, each with its loaded versions; the newest loaded one serves by default."""

    def __init__(
        self, model_dir: Path, loader: Loader, state: ServingState | None = None, max_versions: int = 3
    ) -> None:
        self.model_dir = Path(model_dir)
        self._loader = loader
        self.state = state or LocalServingState()
        self.max_versions = max_versions
        self._versions: dict[str, dict[int, ModelVersion]] = {}
        self._lock = threading.RLock()
        self._refused: set[tuple[str, int]] = set()  # versions on disk a poll found broken: not retried
        self.start_failures: dict[str, str] = {}  # "name/version" -> why it did not load at start
        self.ready = False

    @classmethod
    def for_device(
        cls,
        model_dir: Path,
        providers: list[str],
        threads: int,
        state: ServingState | None = None,
        max_versions: int = 3,
        require_gpu: bool = False,
    ) -> ModelRegistry:
        """A registry loading versions with onnxruntime on `providers`, `threads` intra-op threads per session."""
        return cls(model_dir, lambda path: load_version(path, providers, threads, require_gpu), state, max_versions)

    # -- discovery ---------------------------------------------------------------------------
    def discover(self) -> ModelMap:
        """Model names and their version numbers on disk (folders holding a model.json)."""
        return discover(self.model_dir)

    # -- holding versions in this process --------------------------------------------------------
    def _load_local(self, name: str, number: int) -> ModelVersion:
        try:
            loaded = self._loader(self.model_dir / name / str(number))
        except ModelLoadError:
            observability.record_load(name, number, ok=False)
            raise
        observability.record_load(name, number, ok=True)
        return loaded

    def _install(self, versions: dict[str, dict[int, ModelVersion]]) -> None:
        """Swap in a new {name: {version: ModelVersion}} map; requests holding the old one finish with it."""
        for name in set(self._versions) - set(versions):
            observability.record_served(name, 0, None)
        self._versions = versions
        for name, loaded in versions.items():
            newest = loaded[max(loaded)]
            observability.record_served(name, newest.version, newest.provider)

    def _follow(self, models: ModelMap, fresh: ModelVersion | None = None) -> dict[str, str]:
        """Hold exactly the versions in `models`: keep those held, load the others, skip what cannot load.

        Returns what could not be loaded: {"name/version": reason}.
        """
        versions: dict[str, dict[int, ModelVersion]] = {}
        failed: dict[str, str] = {}
        for name, numbers in models.items():
            for number in numbers:
                held = self._versions.get(name, {}).get(number)
                if held is None and fresh is not None and (fresh.name, fresh.version) == (name, number):
                    held = fresh
                if held is None:
                    try:
                        held = self._load_local(name, number)
                    except ModelLoadError as exc:  # broken on disk (at start), or changed since it was verified
                        log.error("not serving %s version %d: %s", name, number, exc.message)
                        failed[f"{name}/{number}"] = exc.message
                        continue
                versions.setdefault(name, {})[number] = held
        self._install(versions)
        return failed

    def _keep_newest(self, numbers) -> list[int]:
        return sorted(numbers)[-self.max_versions :]

    def load_all(self) -> None:
        """Load what the serving state records, else the newest versions on disk (recorded, so that every process
        serves the same ones even when a version is published while they start); skip a broken one."""
        with self._lock:
            recorded, generation = self.state.read()
            if recorded is None:  # the first process to start: what it finds on disk is what the server serves
                on_disk = {name: self._keep_newest(numbers) for name, numbers in self.discover().items()}
                recorded, generation = self.state.record(lambda models: None, on_disk)
            self.start_failures = self._follow(recorded)
            self.state.mark_seen(generation)
        if not self._versions:
            reasons = "; ".join(f"{key}: {why}" for key, why in self.start_failures.items()) or "none found"
            raise RuntimeError(f"no loadable model in {self.model_dir.resolve()} ({reasons})")
        for name, loaded in self._versions.items():
            log.info(
                "serving %s version %d (loaded: %s) on %s",
                name,
                max(loaded),
                ", ".join(map(str, sorted(loaded))),
                loaded[max(loaded)].provider,
            )
        self.ready = True

    def sync(self) -> None:
        """Follow a change another process recorded; cheap (one stat) when nothing changed."""
        if not self.state.changed():
            return
        with self._lock:  # a thread arriving meanwhile waits here for the change rather than serving the old
            if not self.state.changed():
                return
            recorded, generation = self.state.read()
            if recorded is not None:
                self._follow(recorded)
            self.state.mark_seen(generation)

    # -- model control (Triton's repository extension) -------------------------------------------
    def current_map(self) -> ModelMap:
        return {name: sorted(loaded) for name, loaded in self._versions.items()}

    def load(self, name: str, version: int | None = None) -> ModelVersion:
        """Verify and load `version` of `name` (default: the newest on disk) in every process.

        Raises ModelNotFound or ModelLoadError; on either, what serves stays as it was.
        """
        self.sync()
        on_disk = self.discover().get(name, [])
        number = version if version is not None else (on_disk[-1] if on_disk else None)
        if number is None or number not in on_disk:
            raise ModelNotFound(f"model {name!r} version {number} not found in the model repository")
        with self._lock:
            loaded = self._versions.get(name, {}).get(number) or self._load_local(name, number)

            def add(models: ModelMap) -> None:
                models[name] = self._keep_newest(set(models.get(name, [])) | {number})

            models, generation = self.state.record(add, self.current_map())
            self._follow(models, fresh=loaded)
            self.state.mark_seen(generation)
        log.info("loaded %s version %d on %s", name, number, loaded.provider)
        return loaded

    def unload(self, name: str) -> None:
        """Stop serving every version of `name`, in every process."""
        self.sync()
        with self._lock:
            if name not in self._versions:
                raise ModelNotFound(f"model {name!r} is not loaded")
            models, generation = self.state.record(lambda models: models.pop(name, None), self.current_map())
            self._follow(models)
            self.state.mark_seen(generation)
        log.info("unloaded %s", name)

    def poll_once(self) -> list[tuple[str, int]]:
        """Load every version newer than the served one that appeared on disk; returns what was loaded.

        A version that fails to load is logged once and not tried again.
        """
        self.sync()
        loaded = []
        for name, on_disk in self.discover().items():
            newest = on_disk[-1]
            served = self._versions.get(name)
            if served is None or newest <= max(served) or (name, newest) in self._refused:
                continue
            try:
                self.load(name, newest)
                loaded.append((name, newest))
            except ModelLoadError as exc:
                self._refused.add((name, newest))
                log.error("not serving %s version %d found on disk: %s", name, newest, exc.message)
        return loaded

    # -- answering requests ----------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, name: str) -> list[int]:
        return sorted(self._versions.get(name, {}))

    def get(self, name: str, version: int | str | None = None) -> ModelVersion:
        """The requested version, or the newest loaded one; ModelNotFound names what exists."""
        versions = self._versions.get(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise ModelNotFound(f"unknown model {name!r}; available: {known}")
        if version is None or version == "":
            return versions[max(versions)]
        number = parse_version(version)
        if number is None:
            raise ModelNotFound(f"model {name!r} has no version {version!r}; versions are integers")
        if number not in versions:
            raise ModelNotFound(
                f"model {name!r} has no version {number}; available: {', '.join(map(str, sorted(versions)))}"
            )
        return versions[number]


OFF = "off"  # a setting that names an optional model (DIGIT_CHECK_MODEL, LINE_READER_MODEL) turned off


def optional_model(registry: ModelRegistry, name: str, task: str | None = None) -> ModelVersion | None:
    """The served version of an optional model, or None when its setting is OFF, the repository lacks it, or it is
    not a model of `task` (where one is asked for)."""
    if name == OFF:
        return None
    try:
        model = registry.get(name, None)
    except ModelNotFound:
        return None
    return model if task is None or model.task == task else None


def serving_status(registry: ModelRegistry, drain_file: Path | None) -> tuple[str, dict[str, int], dict[str, str]]:
    """ready; draining (shutting down: a preStop hook ran); degraded (a version failed to load at start, the
    others serve); or not ready (models not loaded yet). With the served versions and the failures."""
    served = {name: registry.get(name).version for name in registry.names()} if registry.ready else {}
    if drain_file is not None and drain_file.exists():
        return "draining", served, {}
    if not registry.ready:
        return "not ready", served, {}
    if registry.start_failures:
        return "degraded", served, registry.start_failures
    return "ready", served, {}


def registry_from_settings(settings: Settings) -> ModelRegistry:
    """The registry a serving process uses (HTTP worker or gRPC server): its device, threads and shared state."""
    return ModelRegistry.for_device(
        settings.model_dir,
        choose_providers(settings.device),
        settings.session_threads,
        serving_state(settings.state_dir),
        settings.max_versions,
        require_gpu=settings.device == "cuda",
    )


def repository_problem(model_dir: Path) -> str | None:
    """Why `model_dir` cannot serve at all (missing, not a directory, unreadable, no versions), or None."""
    if not model_dir.exists():
        return f"MODEL_DIR {model_dir} does not exist"
    if not model_dir.is_dir():
        return f"MODEL_DIR {model_dir} is not a directory"
    try:
        found = discover(model_dir)
    except OSError as exc:
        return f"MODEL_DIR {model_dir} cannot be read: {exc.strerror}"
    if not found:
        return f"MODEL_DIR {model_dir} holds no model version (expected <name>/<version>/model.json and model.onnx)"
    return None


def start_polling(registry: ModelRegistry, seconds: float) -> threading.Thread:
    """Watch the model directory every `seconds` in a daemon thread, loading new versions as they appear."""

    def watch() -> None:
        while True:
            time.sleep(seconds)
            try:
                registry.poll_once()
            except Exception:
                log.exception("model directory poll failed")

    thread = threading.Thread(target=watch, name="model-poller", daemon=True)
    thread.start()
    return thread
