"""The model repository: discover versions on disk, load onnxruntime sessions, answer metadata.

Layout: <model_dir>/<name>/<version>/model.onnx + model.json. Each worker process owns one
registry; sessions are created after the fork, warmed up once, and never per request.
A version is loaded whole or not at all: its file must match the sha256 in model.json, its
tensors must match the card, and a warm-up inference must succeed before it may serve.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

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
    loaded_at: float = field(default_factory=time.time)

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


class ModelRegistry:
    """Every model in the repository, each with its loaded versions and the one it serves by default."""

    def __init__(self, model_dir: Path, device: str = "auto", threads: int = 1) -> None:
        self.model_dir = Path(model_dir)
        self.providers = choose_providers(device)
        self.threads = threads
        self._versions: dict[str, dict[int, ModelVersion]] = {}
        self._lock = threading.Lock()
        self.ready = False

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

    def load_all(self) -> None:
        """Load every version on disk; a broken version is logged and skipped, never fatal to the others."""
        for name, versions in self.discover().items():
            for number in versions:
                try:
                    self.load(name, number)
                except ModelLoadError as exc:
                    log.error("skipping %s version %s: %s", name, number, exc.message)
        if not self._versions:
            raise RuntimeError(f"no loadable model in {self.model_dir.resolve()}")
        self.ready = True

    def load(self, name: str, version: int | None = None) -> ModelVersion:
        """Load `version` of `name` (default: the newest on disk) and make it available."""
        on_disk = self.discover().get(name, [])
        number = version if version is not None else (on_disk[-1] if on_disk else None)
        if number is None or number not in on_disk:
            raise ModelNotFound(f"model {name!r} version {number} not found in the model repository")
        loaded = load_version(self.model_dir / name / str(number), self.providers, self.threads)
        with self._lock:
            versions = dict(self._versions.get(name, {}))
            versions[number] = loaded
            self._versions = {**self._versions, name: versions}
        log.info("loaded %s version %d on %s", name, number, loaded.provider)
        return loaded

    def unload(self, name: str) -> None:
        """Stop serving every version of `name`."""
        with self._lock:
            if name not in self._versions:
                raise ModelNotFound(f"model {name!r} is not loaded")
            self._versions = {k: v for k, v in self._versions.items() if k != name}
        log.info("unloaded %s", name)

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
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise ModelNotFound(f"model {name!r} has no version {version!r}; versions are integers") from None
        if number not in versions:
            raise ModelNotFound(f"model {name!r} has no version {number}; available: "
                                f"{', '.join(map(str, sorted(versions)))}")
        return versions[number]

    def describe(self, name: str) -> dict:
        """A model's served version with its metadata, and every loaded version."""
        served = self.get(name)
        return {**served.describe(), "versions": self.versions(name), "served_version": served.version}
