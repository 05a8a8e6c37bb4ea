"""Prepare the data: MNIST from a local directory of IDX files, Keras' cache, or Keras' download.

The canonical files are the four IDX gzip files published with MNIST. Each file starts with a
magic number (2051 for images, 2049 for labels) and its dimensions; both are checked, so a
truncated or swapped file is a clear error rather than a silently wrong data set.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
EXPECTED_COUNTS = {"train": 60_000, "test": 10_000}
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"


class DatasetError(Exception):
    """The data set is missing or malformed; the message is one line meant for the user."""


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images (N, 28, 28), labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: str

    def limited(self, limit: int | None) -> Mnist:
        """The first `limit` training images (the test set is kept whole)."""
        if not limit:
            return self
        return Mnist(self.x_train[:limit], self.y_train[:limit], self.x_test, self.y_test, self.source, self.sha256)


def _find_file(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"MNIST file {stem}.gz (or {stem}) not found in {data_dir}")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file (gzip or plain), checking its magic number and its size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    ndim = 3 if magic == IMAGE_MAGIC else 1
    header_size = 4 + 4 * ndim
    found_magic = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else None
    if found_magic != magic:
        raise DatasetError(f"{path} has IDX magic number {found_magic}, expected {magic}")
    if len(raw) < header_size:
        raise DatasetError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(dims)) + header_size
    if len(raw) != expected:
        raise DatasetError(f"{path} holds {len(raw)} bytes, expected {expected} for shape {tuple(dims)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def load_idx_dir(data_dir: Path) -> Mnist:
    """Load the four canonical IDX files from a directory."""
    if not data_dir.is_dir():
        raise DatasetError(f"MNIST directory {data_dir} does not exist")
    paths = {key: _find_file(data_dir, stem) for key, stem in FILES.items()}
    arrays = {
        key: read_idx(path, IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC) for key, path in paths.items()
    }
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (28, 28):
            raise DatasetError(f"{paths[f'{split}_images']} holds {images.shape[1:]} images, expected 28x28")
        if len(images) != len(labels):
            raise DatasetError(f"{split}: {len(images)} images but {len(labels)} labels")
        if len(images) != EXPECTED_COUNTS[split]:
            raise DatasetError(f"{split}: {len(images)} images, expected {EXPECTED_COUNTS[split]}")
        if labels.max() > 9:
            raise DatasetError(f"{paths[f'{split}_labels']} holds label {labels.max()}, expected 0-9")
    digest = hashlib.sha256()
    for key in FILES:
        digest.update(paths[key].read_bytes())
    return Mnist(
        arrays["train_images"],
        arrays["train_labels"],
        arrays["test_images"],
        arrays["test_labels"],
        source=str(data_dir),
        sha256=digest.hexdigest(),
    )


def _load_npz(path: Path) -> Mnist:
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"cannot read Keras' MNIST cache {path}: {exc}") from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Mnist(**arrays, source=str(path), sha256=digest)


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """MNIST from `data_dir`, else $MNIST_DIR, else Keras' cache, else Keras' download.

    An explicitly named directory (flag or environment) is authoritative: when it is missing or
    broken that is an error, never a silent download.
    """
    chosen = data_dir or os.environ.get("MNIST_DIR")
    if chosen:
        return load_idx_dir(Path(chosen))
    if KERAS_CACHE.is_file():
        return _load_npz(KERAS_CACHE)
    try:
        import keras

        keras.datasets.mnist.load_data()
    except Exception as exc:  # noqa: BLE001 - any download failure becomes one clear line
        raise DatasetError(
            "no MNIST found: pass --data-dir or set MNIST_DIR to a directory of the IDX .gz files "
            f"(the Keras download failed too: {type(exc).__name__}: {exc})"
        ) from None
    return _load_npz(KERAS_CACHE)


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1], as the models are trained and served."""
    return images.astype(np.float32) / 255.0
