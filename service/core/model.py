"""One model version: its tensor specs, its onnxruntime session, and how it is loaded and verified.

A version is loaded whole or not at all: model.onnx must match the sha256 in model.json, its tensors
must match the card, and a warm-up inference must succeed before it may serve. Sessions are created
in the process that uses them (after gunicorn's fork), once, never per request.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.errors import ModelLoadError

log = logging.getLogger("service.core.model")

ONNX_TO_NUMPY: dict[str, type] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}
NUMPY_TO_DATATYPE: dict[type, str] = {
    np.float32: "FP32",
    np.float64: "FP64",
    np.int64: "INT64",
    np.int32: "INT32",
    np.uint8: "UINT8",
}

WARM_UP_EXTENT = 64


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
            f"{', '.join(available)}); install onnxruntime-gpu with CUDA and cuDNN, or set DEVICE=auto or cpu"
        )
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
    def labels(self) -> list[str]:
        return self.card.get("labels", [])

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    def run(self, feeds: dict[str, np.ndarray], output_names: list[str] | None = None) -> list[np.ndarray]:
        """Run named inputs to named outputs (all outputs by default). Callers go through the data plane."""
        names = output_names or [spec.name for spec in self.outputs]
        return self.session.run(names, feeds)


def session_options(threads: int) -> ort.SessionOptions:
    """`threads` intra-op threads, no inter-op pool, and no spinning: the HTTP side needs the CPU between calls."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


@cache
def load_cuda_libraries() -> None:
    """Make the CUDA and cuDNN libraries of pip's nvidia-* packages (onnxruntime-gpu[cuda,cudnn]) loadable.

    An image built on NVIDIA's CUDA base has them on the default library path already; this finds
    them in site-packages too, once per process, and is never called without a GPU provider.
    """
    try:
        ort.preload_dlls(directory="")
    except Exception as exc:  # noqa: BLE001 - best effort: the session below says clearly if CUDA is missing
        log.warning("could not preload CUDA libraries: %s", exc)


def load_version(path: Path, providers: list[str], threads: int, require_gpu: bool = False) -> ModelVersion:
    """Load and check one version folder; raise ModelLoadError saying what is wrong (naming it name/version,
    never by its path on this machine, since the message reaches clients).

    With `require_gpu` (DEVICE=cuda) a session that onnxruntime quietly put on the CPU, because the CUDA
    libraries could not be loaded, is refused instead of serving slowly.
    """
    where = f"{path.parent.name}/{path.name}"
    try:
        card = json.loads((path / "model.json").read_text())
        onnx_bytes = (path / "model.onnx").read_bytes()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else exc  # an OSError's text would name the path
        raise ModelLoadError(f"{where}: cannot read model.json and model.onnx: {reason}") from None
    expected_sha = card.get("onnx", {}).get("sha256")
    actual_sha = hashlib.sha256(onnx_bytes).hexdigest()
    if expected_sha != actual_sha:
        raise ModelLoadError(
            f"{where}: model.onnx sha256 {actual_sha[:12]}... does not match model.json ({str(expected_sha)[:12]}...)"
        )
    if "CUDAExecutionProvider" in providers:
        load_cuda_libraries()
    try:
        session = ort.InferenceSession(onnx_bytes, session_options(threads), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own, undocumented, classes
        raise ModelLoadError(f"{where}: onnxruntime cannot load model.onnx: {exc}") from None
    if require_gpu and session.get_providers()[0] != "CUDAExecutionProvider":
        raise ModelLoadError(
            f"{where}: DEVICE=cuda but onnxruntime runs this model on {session.get_providers()[0]}: the CUDA or "
            "cuDNN libraries could not be loaded (onnxruntime-gpu 1.32 needs CUDA 12 and cuDNN 9)"
        )
    inputs = [_spec(node) for node in session.get_inputs()]
    outputs = [_spec(node) for node in session.get_outputs()]
    declared = [(t["name"], t["datatype"], t["shape"]) for t in card.get("inputs", [])]
    found = [(s.name, s.datatype, list(s.shape)) for s in inputs]
    if declared != found:
        raise ModelLoadError(f"{where}: model.onnx inputs {found} differ from model.json {declared}")
    version = ModelVersion(card.get("name", path.parent.name), int(path.name), path, card, session, inputs, outputs)
    # One row; a free dimension after the batch (the width of a line for the line reader) as WARM_UP_EXTENT.
    warm: dict[str, np.ndarray] = {
        spec.name: np.zeros(
            [(1 if i == 0 else WARM_UP_EXTENT) if dim == -1 else dim for i, dim in enumerate(spec.shape)],
            dtype=spec.dtype,
        )
        for spec in inputs
    }
    try:
        version.run(warm)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{where}: warm-up inference failed: {exc}") from None
    return version
