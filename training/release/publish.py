"""Publish a model version into the model repository: models/<name>/<version>/.

A version is written into a temporary folder beside its target and renamed into place, so a
reader (the service) sees either no version or a whole one. An existing version is never
overwritten: when another run takes the number first, this one takes the next.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RECORDED_PACKAGES = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "numpy")


class GateRefused(Exception):
    """The trained model is not good enough to publish: nothing was published."""


def existing_versions(model_dir: Path, name: str) -> list[int]:
    """The integer versions already published for `name`, ascending."""
    folder = Path(model_dir) / name
    if not folder.is_dir():
        return []
    return sorted(int(entry.name) for entry in folder.iterdir() if entry.is_dir() and entry.name.isdigit())


def next_version(model_dir: Path, name: str) -> int:
    """One more than the highest published version (1 for a new model)."""
    versions = existing_versions(model_dir, name)
    return versions[-1] + 1 if versions else 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the libraries that made the model, without importing them."""
    found = {"python": platform.python_version()}
    for package in RECORDED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def publish_version(
    model_dir: Path, name: str, files: Mapping[str, bytes], card: dict, max_attempts: int = 20
) -> tuple[int, Path]:
    """Atomically publish `files` plus model.json: `card`, stamped with when it was published (`created_at`), the
    libraries that made it (`libraries`) and its version.

    Returns the version number and its folder.
    """
    parent = Path(model_dir) / name
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    # mkdtemp makes the folder private (0700); a published version must be readable by a server that runs as
    # another user (the image's uid 10001 on a shared volume), as its files are.
    os.chmod(staging, 0o755)  # noqa: S103 - world-readable on purpose: a model version holds no secret
    card = {**card, "created_at": utc_now(), "libraries": package_versions()}
    try:
        for filename, data in files.items():
            _write_synced(staging / filename, data)
        for _ in range(max_attempts):
            version = next_version(model_dir, name)
            card = {**card, "version": version}
            _write_synced(staging / "model.json", (json.dumps(card, indent=2) + "\n").encode())
            target = parent / str(version)
            try:
                os.rename(staging, target)
            except OSError:
                if target.exists():
                    continue  # another run published this number first: take the next one
                raise
            return version, target
        raise RuntimeError(f"could not find a free version number for {name} in {max_attempts} attempts")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
