"""Fine-tune the served CNN on its users' own digits: `python -m training finetune cnn --from-feedback DIR --data DIR`.

1. **The user's digits**: the corrections in every `feedback-*.sqlite` of FEEDBACK_DIR (service/core/feedback.py),
   and/or a folder of labelled images in the Keras layout (`DIR/7/*.png`, as keras.utils.image_dataset_from_directory
   reads it). Each image goes through the service's own preprocessing: a digit as `/predict` prepares it, a number's
   correction cut into its digits by `/read`'s own segmentation, kept only where its marks match the text (as many
   digits, the separators where the text has them).
2. **Folds by source**: the source images fall into FOLDS folds by the hash of each (a number's digits stay
   together), the same on every run.
3. **The gate, cross-fitted**: for each fold, the served version is fine-tuned on the other folds and reads the
   fold's digits, so every correction is judged by a model that never saw it. The digits that fixes and those it
   breaks, against the served version on the same digits, go through a one-sided exact McNemar test; it publishes
   only when the gain is positive at CONFIDENCE, and says what it judged (the count, the two accuracies with their
   Wilson intervals, fixed, broken, p) either way.
4. **Training** starts again from the served version (`--base`, the version the service serves, or the newest:
   its model.keras where one was saved, else its weights read back from model.onnx and checked against
   onnxruntime) and trains on all the user's digits, repeated, mixed with MNIST training digits so that nothing
   is forgotten, at a low learning rate. MNIST's test accuracy may fall by at most MAX_MNIST_DROP. Then the
   version is exported, verified, published and, with --reload-url, loaded, as `python -m training cnn` does. Its
   card records what it learned from (counts, the sha256 of every source image, never the images) and the gate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training import export, report
from training.data import Mnist
from training.publish import existing_versions, package_versions, publish_version, sha256_bytes, utc_now

log = logging.getLogger("training.finetune")

# The gate (cross-fitting): the user's source images fall into FOLDS folds by their hash; each fold's digits are
# judged by a model fine-tuned on the other folds, so every correction counts as evidence and none judges a model
# that learned it. The gain must be positive at CONFIDENCE: a one-sided exact (McNemar) test on the digits the
# fine-tune fixed against those it broke.
FOLDS = 3
CONFIDENCE = 0.95
MAX_MNIST_DROP = 0.002
EPOCHS = 4
LEARNING_RATE = 2e-4
MNIST_MIX = 20_000  # MNIST training digits mixed in
USER_SHARE = 0.3  # the user's digits, repeated, make up this share of each epoch
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 25_000_000


class FinetuneError(Exception):
    """No usable user digits, or the fine-tuned model is not better: nothing is published."""


@dataclass
class UserDigits:
    """The user's digits as the model takes them (N x 28 x 28 in [0, 1]), their labels, the sha256 of the image
    each came from, and what could not be used (by reason)."""

    pixels: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, pixels: np.ndarray, label: int, source: str) -> None:
        self.pixels.append(pixels)
        self.labels.append(label)
        self.sources.append(source)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _number_digits(image: bytes, text: str) -> list[np.ndarray] | None:
    """A number's correction cut into its digits by /read's segmentation; None unless its marks match the text."""
    from service.reading import DIGIT, read_image

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
    from service.core.feedback import read_items
    from service.errors import ServiceError
    from service.reading import mnist_from_image

    found = UserDigits()
    if feedback_dir is not None:
        for _, kind, label, image, digest in read_items(feedback_dir):
            found.counts[f"feedback {kind}s"] = found.counts.get(f"feedback {kind}s", 0) + 1
            try:
                if kind == "digit":
                    found.add(mnist_from_image(image, MAX_IMAGE_PIXELS), int(label), digest)
                    continue
                digits = _number_digits(image, label)
            except ServiceError:
                found.skip("no digit found in the image")
                continue
            if digits is None:
                found.skip("a number whose marks do not match its text")
                continue
            for pixels, char in zip(
                digits, label.replace("\n", "").translate(str.maketrans("", "", ".,-/:")), strict=True
            ):
                found.add(pixels, int(char), digest)
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


def paired_test(fixed: int, broken: int) -> float:
    """The one-sided exact McNemar p-value that fixing `fixed` digits while breaking `broken` is no real gain: the
    chance of at least `fixed` heads in `fixed + broken` fair coin tosses."""
    n = fixed + broken
    if n == 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(fixed, n + 1)) / 2**n


def wilson(right: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a share `right / total`."""
    if total == 0:
        return 0.0, 1.0
    p = right / total
    centre, spread = p + z * z / (2 * total), z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    low, high = (centre - spread) / (1 + z * z / total), (centre + spread) / (1 + z * z / total)
    return max(0.0, low), min(1.0, high)


def served_cnn(model_dir: Path, base: int | None = None):
    """CNN version `base` (default: the newest in `model_dir`) as a Keras model: its model.keras, else its weights
    read back from model.onnx (each layer's by name; checked against onnxruntime on MNIST-like input). Returns the
    model and the version's folder."""
    import keras
    import onnx
    from onnx import numpy_helper

    from training.models import build_cnn

    versions = existing_versions(model_dir, "cnn")
    if not versions:
        raise FinetuneError(f"no cnn version in {model_dir} to start from")
    if base is not None and base not in versions:
        raise FinetuneError(f"no cnn version {base} in {model_dir} to start from (it has {versions})")
    folder = model_dir / "cnn" / str(versions[-1] if base is None else base)
    if (folder / "model.keras").is_file():
        return keras.models.load_model(folder / "model.keras"), folder
    model = build_cnn()
    weights = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(folder / "model.onnx")).graph.initializer}
    for layer in model.layers:
        if not layer.weights:
            continue
        named = [array for name, array in weights.items() if f"/{layer.name}_1/" in name or f"/{layer.name}/" in name]
        kernel = next(a for a in named if a.ndim > 1)
        bias = next(a for a in named if a.ndim == 1)
        layer.set_weights([kernel.transpose(2, 3, 1, 0) if kernel.ndim == 4 else kernel, bias])
    return model, folder


def _fitted(model, weights: list, x_user: np.ndarray, y_user: np.ndarray, data: Mnist, seed: int, epochs: int):
    """`model` set to `weights` (the base) and fine-tuned on the user's digits, repeated to USER_SHARE of each epoch,
    mixed with MNIST_MIX MNIST training digits; with its fit history, the MNIST rows mixed in and the repeats."""
    import keras

    keras.utils.set_random_seed(seed)
    model.set_weights(weights)
    rng = np.random.default_rng(seed)
    mnist_rows = rng.choice(len(data.x_train), size=min(MNIST_MIX, len(data.x_train)), replace=False)
    repeats = max(1, round(USER_SHARE / (1 - USER_SHARE) * len(mnist_rows) / len(y_user)))
    x = np.concatenate([data.x_train[mnist_rows] / np.float32(255.0), np.repeat(x_user, repeats, axis=0)])
    y = np.concatenate([data.y_train[mnist_rows], np.repeat(y_user, repeats)])
    order = rng.permutation(len(y))
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    fit = model.fit(x[order][..., np.newaxis], y[order], epochs=epochs, batch_size=64, verbose=0)
    return fit.history, len(mnist_rows), repeats


def _read(model, pixels: np.ndarray) -> np.ndarray:
    return model.predict(pixels[..., np.newaxis], batch_size=512, verbose=0).argmax(axis=1)


def _right(model, pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _read(model, pixels) == labels


def finetune(
    data: Mnist,
    model_dir: Path,
    feedback_dir: Path | None,
    data_dir: Path | None,
    epochs: int = EPOCHS,
    seed: int = 0,
    folds: int = FOLDS,
    base: int | None = None,
) -> dict:
    """Fine-tune, gate (cross-fitted, see FOLDS) and publish the next CNN version; returns what the card records."""
    import onnxruntime as ort

    found = user_digits(feedback_dir, data_dir)
    if not found.labels:
        raise FinetuneError(f"no usable user digit in {feedback_dir or ''} {data_dir or ''} ({found.skipped})")
    pixels, labels = np.stack(found.pixels).astype(np.float32), np.array(found.labels)
    fold = fold_of(found.sources, folds)
    if len(set(fold.tolist())) < 2:
        raise FinetuneError(f"{len(set(found.sources))} source images fall in fewer than two of {folds} folds")
    model, served = served_cnn(model_dir, base)
    served_card = json.loads((served / "model.json").read_text())
    # The weights read back must answer as the served ONNX does.
    session = ort.InferenceSession(str(served / "model.onnx"), providers=["CPUExecutionProvider"])
    probe = (data.x_test[:200] / np.float32(255.0))[..., np.newaxis].astype(np.float32)
    gap = float(np.abs(session.run(None, {"pixels": probe})[0] - model.predict(probe, verbose=0)).max())
    if gap > 1e-4:
        raise FinetuneError(f"the served version's weights could not be read back (off by {gap:.2e})")
    x_test = data.x_test / np.float32(255.0)
    weights = model.get_weights()
    base_right = _right(model, pixels, labels)
    mnist_before = float(_right(model, x_test, data.y_test).mean())
    started = time.perf_counter()
    # Cross-fitting: every digit judged by a model that never saw its source image.
    crossed = np.zeros(len(labels), dtype=bool)
    for k in sorted(set(fold.tolist())):
        _fitted(model, weights, pixels[fold != k], labels[fold != k], data, seed + 1 + k, epochs)
        crossed[fold == k] = _right(model, pixels[fold == k], labels[fold == k])
    fixed, broken = int((~base_right & crossed).sum()), int((base_right & ~crossed).sum())
    p_value = paired_test(fixed, broken)
    judged = len(labels)
    before = {"user_held_out": float(base_right.mean()), "mnist_test": mnist_before}
    served_interval = wilson(int(base_right.sum()), judged)
    tuned_interval = wilson(int(crossed.sum()), judged)
    gate: dict[str, object] = {
        "judged_digits": judged,
        "folds": folds,
        "served_right": int(base_right.sum()),
        "finetuned_right": int(crossed.sum()),
        "served_interval": [round(v, 4) for v in served_interval],
        "finetuned_interval": [round(v, 4) for v in tuned_interval],
        "fixed": fixed,
        "broken": broken,
        "p_value": round(p_value, 6),
        "confidence": CONFIDENCE,
    }
    said = (
        f"judged {judged} user digits, each by a model fine-tuned without it ({folds} folds): served "
        f"v{served_card['version']} {base_right.mean():.4f} [{served_interval[0]:.3f}, {served_interval[1]:.3f}], "
        f"fine-tuned {crossed.mean():.4f} [{tuned_interval[0]:.3f}, {tuned_interval[1]:.3f}]; "
        f"fixed {fixed}, broke {broken} (one-sided p = {p_value:.3f})"
    )
    log.info("fine-tune gate: %s", said)
    if not (fixed > broken and p_value <= 1 - CONFIDENCE):
        missed = {str(d): int(((labels == d) & ~base_right).sum()) for d in range(10)}
        worst = ", ".join(f"{d} ({n} misread)" for d, n in sorted(missed.items(), key=lambda kv: -kv[1]) if n)[:120]
        raise FinetuneError(
            f"{said}: the gain is not shown at {CONFIDENCE:.0%}; nothing published. More corrections would decide "
            f"it, above all of the digits the served version misreads: {worst or 'none misread yet'}"
        )
    history, mixed, repeats = _fitted(model, weights, pixels, labels, data, seed, epochs)
    wall_time = time.perf_counter() - started
    mnist_read = _read(model, x_test)  # once: for the bound and the report's confusion matrix
    mnist_after = float((mnist_read == data.y_test).mean())
    after = {"user_held_out": float(crossed.mean()), "mnist_test": mnist_after}
    if mnist_after < mnist_before - MAX_MNIST_DROP:
        raise FinetuneError(
            f"{said}; but MNIST test accuracy falls by more than {MAX_MNIST_DROP} ({mnist_before:.4f} -> "
            f"{mnist_after:.4f}); nothing published"
        )
    log.info("fine-tune: published-to-be reads MNIST test %.4f (was %.4f)", mnist_after, mnist_before)
    proto = export.export_keras(model, doc="digit-serve cnn MNIST classifier, fine-tuned on its users' digits")
    probabilities = model.predict(x_test[:1000][..., np.newaxis], batch_size=512, verbose=0)
    parity = export.verify_parity(proto, x_test[:1000][..., np.newaxis].astype(np.float32), probabilities)
    onnx_bytes = proto.SerializeToString()
    sources = sorted(set(found.sources))
    card = {
        **{k: served_card[k] for k in ("name", "task", "inputs", "outputs", "preprocessing", "labels", "parameters")},
        "description": f"{served_card['description']}; fine-tuned on users' digits from v{served_card['version']}",
        "metrics": {
            "test_accuracy": round(after["mnist_test"], 6),
            "test_samples": len(data.y_test),
            "onnx_parity_max_abs_diff": parity,
            "finetune": {"before": before, "after": after, "gate": gate, "max_mnist_drop": MAX_MNIST_DROP},
        },
        "training": {
            "finetuned_from": served_card["version"],
            "epochs": epochs,
            "learning_rate": LEARNING_RATE,
            "seed": seed,
            "mnist_mixed_in": mixed,
            "user_repeats": repeats,
            "history": {k: [round(float(v), 6) for v in vs] for k, vs in history.items()},
            "wall_time_s": round(wall_time, 1),
        },
        "data": {
            "source": data.source,
            "sha256": data.sha256,
            "user": {
                "digits": len(labels),
                "folds": {str(k): int((fold == k).sum()) for k in range(folds)},
                "by_label": {str(d): int((labels == d).sum()) for d in range(10)},
                "inputs": found.counts,
                "skipped": found.skipped,
                "source_images": len(sources),
                "source_sha256": sources,
            },
        },
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
        "created_at": utc_now(),
        "libraries": package_versions(),
    }
    matrix = report.confusion_matrix(data.y_test, mnist_read)
    files = {"model.onnx": onnx_bytes, "report.png": report.classifier_report(
        f"cnn fine-tuned — cross-fitted user digits {after['user_held_out']:.3f}", history, matrix)}  # fmt: skip
    version, path = publish_version(model_dir, "cnn", files, card)
    model.save(path / "model.keras")
    return {
        "version": version, "path": str(path), "base": served_card["version"], "before": before, "after": after,
        "digits": len(labels), "gate": gate, "said": said,
    }  # fmt: skip
