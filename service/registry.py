"""The model repository: discover versions on disk, load onnxruntime sessions, answer metadata.

Layout: <model_dir>/<name>/<version>/model.onnx + model.json. Each worker process owns one
registry; sessions are created after the fork, warmed up once, and never per request.
A version is loaded whole or not at all: its file must match the sha256 in model.json, its
tensors must match the card, and a warm-up inference must succeed before it may serve.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service import observability
from service.errors import ModelLoadError, ModelNotFound

log = logging.getLogger("service.registry")

ONNX_TO_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
                 "tensor(int32)": np.int32, "tensor(uint8)": np.uint8}
NUMPY_TO_DATATYPE = {np.float32: "FP32", np.float64: "FP64", np.int64: "INT64", np.int32: "INT32",
                     np.uint8: "UINT8"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: type
    shape: tuple[int, ...]  # -1 for the batch dimension and any other free dimension

    @property
    def datatype(self) -> str:
        return NUMPY_TO_DATATYPE[self.dtype]

    def describe(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _spec(node) -> TensorSpec:
    dtype = ONNX_TO_NUMPY.get(node.type)
    if dtype is None:
        raise ModelLoadError(f"tensor {node.name} has unsupported type {node.type}")
    shape = tuple(dim if isinstance(dim, int) else -1 for dim in node.shape)
    return TensorSpec(node.name, dtype, shape)


def parse_version(value: object) -> int | None:
    """An integer version from 3 or "3"; None for anything else (booleans, 1.5, "latest", objects)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def choose_providers(device: str, available: list[str] | None = None) -> list[str]:
    """onnxruntime providers for DEVICE=auto|cpu|cuda; cuda without a GPU provider is an error."""
    available = ort.get_available_providers() if available is None else available
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise RuntimeError(
            "DEVICE=cuda but onnxruntime offers no CUDAExecutionProvider (available: "
            f"{', '.join(available)}); install onnxruntime-gpu with CUDA and cuDNN, or set DEVICE=auto or cpu")
    if device in ("cuda", "auto") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@dataclass
class ModelVersion:
    """One loaded version: its card (model.json), its session and tensor specs."""

    name: str
    version: int
    path: Path
    card: dict
    session: ort.InferenceSession
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @property
    def task(self) -> str:
        return self.card.get("task", "classification")

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Run the model's first output on a batch shaped and typed like its first input."""
        return self.session.run([self.outputs[0].name], {self.input.name: batch})[0]

    def run(self, feeds: dict[str, np.ndarray], output_names: list[str] | None = None) -> list[np.ndarray]:
        """Run named inputs to named outputs (all outputs by default)."""
        names = output_names or [spec.name for spec in self.outputs]
        return self.session.run(names, feeds)

    def describe(self) -> dict:
        card = self.card
        return {"name": self.name, "version": self.version, "task": self.task,
                "inputs": [spec.describe() for spec in self.inputs],
                "outputs": [spec.describe() for spec in self.outputs],
                "preprocessing": card.get("preprocessing"), "labels": card.get("labels", []),
                "parameters": card.get("parameters"), "metrics": card.get("metrics", {}),
                "created_at": card.get("created_at"), "provider": self.provider}


def load_version(path: Path, providers: list[str], threads: int) -> ModelVersion:
    """Load and check one version folder; raise ModelLoadError saying what is wrong."""
    try:
        card = json.loads((path / "model.json").read_text())
        onnx_bytes = (path / "model.onnx").read_bytes()
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read model.json and model.onnx: {exc}") from None
    expected_sha = card.get("onnx", {}).get("sha256")
    actual_sha = hashlib.sha256(onnx_bytes).hexdigest()
    if expected_sha != actual_sha:
        raise ModelLoadError(f"{path}: model.onnx sha256 {actual_sha[:12]}... does not match model.json "
                             f"({str(expected_sha)[:12]}...)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads burn the CPU the HTTP side needs; tiny models gain nothing from them.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(onnx_bytes, options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own, undocumented, classes
        raise ModelLoadError(f"{path}: onnxruntime cannot load model.onnx: {exc}") from None
    inputs = [_spec(node) for node in session.get_inputs()]
    outputs = [_spec(node) for node in session.get_outputs()]
    declared = [(t["name"], t["datatype"], t["shape"]) for t in card.get("inputs", [])]
    found = [(s.name, s.datatype, list(s.shape)) for s in inputs]
    if declared != found:
        raise ModelLoadError(f"{path}: model.onnx inputs {found} differ from model.json {declared}")
    version = ModelVersion(card.get("name", path.parent.name), int(path.name), path, card, session, inputs,
                           outputs)
    warm = np.zeros([1 if dim == -1 else dim for dim in version.input.shape], dtype=version.input.dtype)
    try:
        version.infer(warm)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{path}: warm-up inference failed: {exc}") from None
    return version


class SharedState:
    """Which versions every worker should hold, in `serving.json` in a directory all workers share.

    One HTTP call lands on one worker; that worker verifies the change, then records it here
    (read-modify-write under an exclusive lock, atomic rename). Every worker compares the file's
    stamp before each request and applies a change it has not seen, so no request after a
    successful load is answered by the old version, and requests already running finish on theirs.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "serving.json"
        self._lock_path = self.directory / "serving.lock"

    def stamp(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_ino

    def read(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None

    def update(self, change, initial: dict[str, list[int]]) -> dict:
        """Apply `change(models)` to the recorded {name: [versions]} (or `initial` if none yet)."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.read() or {"generation": 0, "models": initial}
            models = {name: list(versions) for name, versions in current["models"].items()}
            change(models)
            state = {"generation": current["generation"] + 1, "models": models}
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)
            return state


class ModelRegistry:
    """Every model in the repository, each with its loaded versions; the newest loaded one serves by default."""

    def __init__(self, model_dir: Path, device: str = "auto", threads: int = 1, state_dir: Path | None = None,
                 max_versions: int = 3) -> None:
        self.model_dir = Path(model_dir)
        self.providers = choose_providers(device)
        self.threads = threads
        self.max_versions = max_versions
        self.state = SharedState(state_dir) if state_dir else None
        self._versions: dict[str, dict[int, ModelVersion]] = {}
        self._lock = threading.RLock()
        self._seen_stamp: tuple[int, int] | None = None
        self._failed: set[tuple[str, int]] = set()
        self.ready = False

    # -- discovery ---------------------------------------------------------------------------
    def discover(self) -> dict[str, list[int]]:
        """Model names and their version numbers on disk (folders holding a model.json)."""
        found: dict[str, list[int]] = {}
        if not self.model_dir.is_dir():
            return found
        for model in sorted(p for p in self.model_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            versions = sorted(int(v.name) for v in model.iterdir()
                              if v.is_dir() and v.name.isdigit() and (v / "model.json").is_file())
            if versions:
                found[model.name] = versions
        return found

    # -- loading in this process ---------------------------------------------------------------
    def _load_local(self, name: str, number: int) -> ModelVersion:
        try:
            loaded = load_version(self.model_dir / name / str(number), self.providers, self.threads)
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

    def _keep_newest(self, numbers) -> list[int]:
        return sorted(numbers)[-self.max_versions:]

    def load_all(self) -> None:
        """Load the newest versions on disk (or what the shared state records); skip a broken one."""
        recorded = self.state.read() if self.state else None
        wanted = recorded["models"] if recorded else {n: self._keep_newest(v) for n, v in self.discover().items()}
        versions: dict[str, dict[int, ModelVersion]] = {}
        for name, numbers in wanted.items():
            for number in numbers:
                try:
                    versions.setdefault(name, {})[number] = self._load_local(name, number)
                except ModelLoadError as exc:
                    log.error("skipping %s version %s: %s", name, number, exc.message)
        if not versions:
            raise RuntimeError(f"no loadable model in {self.model_dir.resolve()}")
        with self._lock:
            self._seen_stamp = self.state.stamp() if self.state else None
            self._install(versions)
        for name, loaded in versions.items():
            log.info("serving %s version %d (loaded: %s) on %s", name, max(loaded),
                     ", ".join(map(str, sorted(loaded))), loaded[max(loaded)].provider)
        self.ready = True

    def sync(self) -> None:
        """Apply a change another worker recorded in the shared state; cheap (one stat) when nothing changed."""
        if self.state is None or self.state.stamp() == self._seen_stamp:
            return
        with self._lock:
            stamp = self.state.stamp()
            if stamp == self._seen_stamp:
                return
            recorded = self.state.read() or {"models": {}}
            versions: dict[str, dict[int, ModelVersion]] = {}
            for name, numbers in recorded["models"].items():
                for number in numbers:
                    held = self._versions.get(name, {}).get(number)
                    if held is None:
                        try:
                            held = self._load_local(name, number)
                        except ModelLoadError as exc:  # verified by the worker that recorded it; disk changed since
                            log.error("cannot follow shared state for %s version %d: %s", name, number, exc.message)
                            continue
                    versions.setdefault(name, {})[number] = held
            self._install(versions)
            self._seen_stamp = stamp

    # -- model control (Triton's repository extension) -------------------------------------------
    def current_map(self) -> dict[str, list[int]]:
        return {name: sorted(loaded) for name, loaded in self._versions.items()}

    def load(self, name: str, version: int | None = None) -> ModelVersion:
        """Verify and load `version` of `name` (default: the newest on disk) in every worker.

        Raises ModelNotFound or ModelLoadError; on either, what serves stays as it was.
        """
        self.sync()
        on_disk = self.discover().get(name, [])
        number = version if version is not None else (on_disk[-1] if on_disk else None)
        if number is None or number not in on_disk:
            raise ModelNotFound(f"model {name!r} version {number} not found in the model repository")
        with self._lock:
            held = self._versions.get(name, {}).get(number)
            loaded = held or self._load_local(name, number)

            def add(models: dict[str, list[int]]) -> None:
                models[name] = self._keep_newest(set(models.get(name, [])) | {number})

            candidates = {**self._versions.get(name, {}), number: loaded}
            if self.state:
                kept = self.state.update(add, self.current_map())["models"][name]
                self._seen_stamp = self.state.stamp()
            else:
                kept = self._keep_newest(candidates)
            self._install({**self._versions, name: {v: m for v, m in candidates.items() if v in kept}})
        log.info("loaded %s version %d on %s", name, number, loaded.provider)
        return loaded

    def unload(self, name: str) -> None:
        """Stop serving every version of `name`, in every worker."""
        self.sync()
        with self._lock:
            if name not in self._versions:
                raise ModelNotFound(f"model {name!r} is not loaded")
            if self.state:
                self.state.update(lambda models: models.pop(name, None), self.current_map())
                self._seen_stamp = self.state.stamp()
            self._install({k: v for k, v in self._versions.items() if k != name})
        log.info("unloaded %s", name)

    def poll_once(self) -> list[tuple[str, int]]:
        """Load every version newer than the served one that appeared on disk; returns what was loaded."""
        loaded = []
        for name, on_disk in self.discover().items():
            newest = on_disk[-1]
            served = self._versions.get(name)
            if served is None or newest <= max(served) or (name, newest) in self._failed:
                continue
            try:
                self.load(name, newest)
                loaded.append((name, newest))
            except ModelLoadError as exc:
                self._failed.add((name, newest))
                log.error("not serving %s version %d found on disk: %s", name, newest, exc.message)
        return loaded

    def start_polling(self, seconds: float) -> threading.Thread:
        """Watch the model directory every `seconds` in a daemon thread."""

        def watch() -> None:
            while True:
                time.sleep(seconds)
                try:
                    self.poll_once()
                except Exception:
                    log.exception("model directory poll failed")

        thread = threading.Thread(target=watch, name="model-poller", daemon=True)
        thread.start()
        return thread

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
            raise ModelNotFound(f"model {name!r} has no version {number}; available: "
                                f"{', '.join(map(str, sorted(versions)))}")
        return versions[number]

    def describe(self, name: str) -> dict:
        """A model's served version with its metadata, and every loaded version."""
        served = self.get(name)
        return {**served.describe(), "versions": self.versions(name), "served_version": served.version}

    def index(self) -> list[dict]:
        """Every version on disk with its state, as Triton's repository index lists them."""
        entries = []
        for name, on_disk in self.discover().items():
            for number in on_disk:
                ready = number in self._versions.get(name, {})
                entries.append({"name": name, "version": str(number), "state": "READY" if ready else "UNAVAILABLE",
                                "reason": "" if ready else "not loaded"})
        return entries
