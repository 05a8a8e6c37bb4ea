"""The user's digits for the fine-tune (training/learn/finetune.py): every stored correction and labelled image,
prepared as the service prepares it, the folds they fall in, and where each correction came from.

A digit is prepared as `/predict` prepares it; a number's correction is cut into its digits by `/read`'s own
segmentation, kept only where its marks match the text (as many digits, the separators where the text has them).
The folds go by the hash of each source image, so a number's digits stay together and every run makes the same ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.core.feedback import StoredCorrection, read_items
from service.errors import ServiceError
from service.reading import DIGIT, mnist_from_image, read_image
from training.release.publish import sha256_bytes

FOLDS = 3
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 25_000_000


@dataclass
class UserDigits:
    """The user's digits as the model takes them (N x 28 x 28 in [0, 1]), their labels, the sha256 of the image
    each came from, and what could not be used (by reason)."""

    pixels: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    corrections: list[StoredCorrection] = field(default_factory=list)  # every stored correction used

    def add(self, pixels: np.ndarray, label: int, source: str) -> None:
        self.pixels.append(pixels)
        self.labels.append(label)
        self.sources.append(source)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _number_digits(image: bytes, text: str) -> list[np.ndarray] | None:
    """A number's correction cut into its digits by /read's segmentation; None unless its marks match the text."""
    page = read_image(image, MAX_IMAGE_PIXELS)
    lines = text.split("\n")
    if len(page.lines) != len(lines):
        return None
    digits = []
    for line, written in zip(page.lines, lines, strict=True):
        if len(line.characters) != len(written):
            return None
        for character, char in zip(line.characters, written, strict=True):
            if (character.kind == DIGIT) != char.isdigit() or (not char.isdigit() and character.kind != char):
                return None
            if char.isdigit():
                whole = next(s for s in character.segments if (s.start, s.end) == (0, character.last))
                digits.append(whole.part.digit)
    return digits


def user_digits(feedback_dir: Path | None, data_dir: Path | None) -> UserDigits:
    """Every usable user digit from the corrections and the labelled folder, prepared as the service prepares it."""
    found = UserDigits()
    if feedback_dir is not None:
        for item in read_items(feedback_dir):
            found.counts[f"feedback {item.kind}s"] = found.counts.get(f"feedback {item.kind}s", 0) + 1
            try:
                if item.kind == "digit":
                    found.add(mnist_from_image(item.image, MAX_IMAGE_PIXELS), int(item.label), item.sha256)
                    found.corrections.append(item)
                    continue
                digits = _number_digits(item.image, item.label)
            except ServiceError:
                found.skip("no digit found in the image")
                continue
            if digits is None:
                found.skip("a number whose marks do not match its text")
                continue
            for pixels, char in zip(
                digits, item.label.replace("\n", "").translate(str.maketrans("", "", ".,-/:")), strict=True
            ):
                found.add(pixels, int(char), item.sha256)
            found.corrections.append(item)
    if data_dir is not None:
        for label_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
            if not (len(label_dir.name) == 1 and label_dir.name.isdigit()):
                found.skip(f"a folder that is no digit ({label_dir.name})")
                continue
            for path in sorted(label_dir.iterdir()):
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                image = path.read_bytes()
                found.counts["folder images"] = found.counts.get("folder images", 0) + 1
                try:
                    found.add(mnist_from_image(image, MAX_IMAGE_PIXELS), int(label_dir.name), sha256_bytes(image))
                except ServiceError:
                    found.skip("no digit found in the image")
    return found


def fold_of(sources: list[str], folds: int = FOLDS) -> np.ndarray:
    """Each digit's fold: its source image's hash modulo `folds` (a number's digits stay together; the same on every
    run)."""
    return np.array([int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) % folds for s in sources], dtype=np.int64)


def corrections_traced(corrections: list[StoredCorrection]) -> dict:
    """Where the stored corrections came from: each store's ids, their time range, the versions they corrected."""
    stores: dict[str, list[int]] = {}
    for item in corrections:
        stores.setdefault(item.instance, []).append(item.id)
    corrected: dict[str, int] = {}
    for item in corrections:
        key = f"{item.model} v{item.version}" if item.model and item.version is not None else "not said"
        corrected[key] = corrected.get(key, 0) + 1
    times = sorted(item.created_at for item in corrections)
    return {
        "count": len(corrections),
        "stores": {instance: {"file": f"feedback-{instance}.sqlite", "ids": ids} for instance, ids in stores.items()},
        "created": [times[0], times[-1]] if times else [],
        "versions_corrected": corrected,
    }
