"""A model repository for the serving tests, made from the committed models without the training side."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path


def add_version(model_dir: Path, name: str, onnx: bytes | None = None, sha: str | None = None) -> int:
    """A new version of `name` in `model_dir`: version 1's card and model (or `onnx`), the card's sha256 left as
    version 1's (so that another model.onnx is a broken version) unless `sha` is given. Returns its number.

    Written beside and renamed into place, as the publisher does: a server polling the directory never reads a
    version half written."""
    source = model_dir / name / "1"
    versions = [int(p.name) for p in (model_dir / name).iterdir() if p.name.isdigit()]
    number = max(versions) + 1
    target = model_dir / name / str(number)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir / name))
    (staging / "model.onnx").write_bytes(onnx if onnx is not None else (source / "model.onnx").read_bytes())
    card = {**json.loads((source / "model.json").read_text()), "version": number}
    if sha is not None:
        card["onnx"] = {**card["onnx"], "sha256": sha}
    (staging / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    staging.chmod(0o755)
    staging.rename(target)
    return number


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
