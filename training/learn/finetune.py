"""Fine-tune the served CNN on its users' own digits: `python -m training finetune cnn --from-feedback DIR`.

1. **The user's digits** (training/learn/corrections.py): the corrections in every `feedback-*.sqlite` of FEEDBACK_DIR
   (service/core/feedback.py) and/or a folder of labelled images in the Keras layout (`--images DIR`: `DIR/7/*.png`),
   each prepared as the service prepares it, in FOLDS folds by source image.
2. **The gate, cross-fitted** (training/learn/gate.py): for each fold, the served version is fine-tuned on the other
   folds and reads the fold's digits, so every correction is judged by a model that never saw it; the gain must show at
   95 % in a sign test over all of them, and nothing may fall beyond its bound. It says what it judged either way.
3. **Training** starts again from the served version (`--base`, the version the service serves, or the newest:
   its model.keras where one was saved, else its weights read back from model.onnx and checked against
   onnxruntime) and trains on all the user's digits, repeated, mixed with MNIST training digits so that nothing
   is forgotten, half of them degraded as the served version was trained with (training/datasets/degrade.py), whose
   targets are the served version's own answers (learning without forgetting), at a low learning rate. The gate's bounds
   on MNIST and the 17 renderings of real handwriting are checked on it.
4. **Publishing**: the version is exported, verified, published and, with --reload-url, loaded, as
   `python -m training cnn` does. Its card records what it learned from (counts, the sha256 of every source image,
   never the images; each correction's store, id, time and the version it corrected) and the gate's figures.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.datasets import degrade
from training.datasets.mnist import Mnist
from training.learn import gate
from training.learn.corrections import FOLDS, corrections_traced, fold_of, user_digits
from training.learn.models import build_cnn
from training.learn.train import DEGRADE_SEED  # the degraded copies' seed is the base's training seed plus this
from training.release import export, report
from training.release.publish import existing_versions, publish_version, sha256_bytes

log = logging.getLogger("training.learn.finetune")

EPOCHS = 3
LEARNING_RATE = 2e-4
MNIST_MIX = 10_000  # MNIST training digits mixed in ...
DEGRADED_SHARE = 0.5  # ... this share of them degraded as the served version's training degraded them
USER_SHARE = 0.3  # the user's digits, repeated, make up this share of each epoch


class FinetuneError(Exception):
    """No usable user digits, or the fine-tuned model is not better: nothing is published."""


def served_cnn(model_dir: Path, base: int | None = None):
    """CNN version `base` (default: the newest in `model_dir`) as a Keras model: its model.keras, else its weights
    read back from model.onnx (each layer's by name; checked against onnxruntime on MNIST-like input). Returns the
    model and the version's folder."""
    import keras
    import onnx
    from onnx import numpy_helper

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


@dataclass
class Mix:
    """What every fine-tune mixes in beside the user's digits: MNIST training digits, uint8 (N, 28, 28), part of
    them degraded as the served version's training degraded them, and what the served version answers for each
    (N, 10): the targets the fine-tune keeps to there (learning without forgetting), in place of their labels."""

    pixels: np.ndarray
    degraded: int
    targets: np.ndarray


def mnist_mix(data: Mnist, served, base_seed: int, count: int = MNIST_MIX, seed: int = 0) -> Mix:
    """`count` MNIST training digits, DEGRADED_SHARE of them degraded (training/datasets/degrade.py, from the base's
    seed), with the `served` Keras model's probabilities for each."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(data.x_train), size=min(count, len(data.x_train)), replace=False)
    cut = round(len(rows) * DEGRADED_SHARE)
    worn, _ = degrade.degraded_copies(data.x_train[rows[:cut]], data.y_train[rows[:cut]], base_seed)
    pixels = np.concatenate([worn, data.x_train[rows[cut:]]])
    return Mix(pixels, len(worn), _probabilities(served, pixels / np.float32(255.0)))


def _fitted(model, weights: list, x_user: np.ndarray, y_user: np.ndarray, mix: Mix, seed: int, epochs: int):
    """`model` set to `weights` (the base) and fine-tuned on the user's digits, repeated to USER_SHARE of each epoch,
    mixed with `mix`, whose targets are what the base answers (so that it learns the user's hand and keeps the rest:
    a mix of plain labels let some renderings of real handwriting fall by 0.006-0.008 on 4 of 6 seeds); with its fit
    history and the repeats."""
    import keras

    keras.utils.set_random_seed(seed)
    model.set_weights(weights)
    repeats = max(1, round(USER_SHARE / (1 - USER_SHARE) * len(mix.pixels) / len(y_user)))
    x = np.concatenate([mix.pixels / np.float32(255.0), np.repeat(x_user, repeats, axis=0)])
    y = np.concatenate([mix.targets, np.eye(10, dtype=np.float32)[np.repeat(y_user, repeats)]])
    order = np.random.default_rng(seed).permutation(len(y))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="categorical_crossentropy", metrics=["accuracy"])
    fit = model.fit(x[order][..., np.newaxis], y[order], epochs=epochs, batch_size=64, verbose=0)
    return fit.history, repeats


def _probabilities(model, pixels: np.ndarray) -> np.ndarray:
    return model.predict(pixels[..., np.newaxis], batch_size=512, verbose=0)


def finetune(
    data: Mnist,
    model_dir: Path,
    feedback_dir: Path | None,
    data_dir: Path | None,
    epochs: int = EPOCHS,
    seed: int = 0,
    folds: int = FOLDS,
    base: int | None = None,
    mix_count: int = MNIST_MIX,
    rendering_count: int = gate.RENDERING_DIGITS,
) -> dict:
    """Fine-tune, gate (training/learn/gate.py) and publish the next CNN version; returns what the card records."""
    import onnxruntime as ort

    found = user_digits(feedback_dir, data_dir)
    if not found.labels:
        raise FinetuneError(f"no usable user digit in {feedback_dir or ''} {data_dir or ''} ({found.skipped})")
    pixels, labels = np.stack(found.pixels).astype(np.float32), np.array(found.labels)
    fold = fold_of(found.sources, folds)
    used = len(set(fold.tolist()))  # the folds that hold a digit: as many as asked for, or fewer
    if used < 2:
        raise FinetuneError(f"{len(set(found.sources))} source images fall in fewer than two of {folds} folds")
    started = time.perf_counter()
    model, served = served_cnn(model_dir, base)
    served_card = json.loads((served / "model.json").read_text())
    # The weights read back must answer as the served ONNX does.
    session = ort.InferenceSession(str(served / "model.onnx"), providers=["CPUExecutionProvider"])
    probe = (data.x_test[:200] / np.float32(255.0))[..., np.newaxis].astype(np.float32)
    gap = float(np.abs(session.run(None, {"pixels": probe})[0] - model.predict(probe, verbose=0)).max())
    if gap > 1e-4:
        raise FinetuneError(f"the served version's weights could not be read back (off by {gap:.2e})")
    weights = model.get_weights()
    served_user = _probabilities(model, pixels)
    mix = mnist_mix(data, model, served_card.get("training", {}).get("seed", 0) + DEGRADE_SEED, mix_count, seed)
    # Cross-fitting: every digit judged by a model that never saw its source image.
    crossed = np.zeros_like(served_user)
    for k in sorted(set(fold.tolist())):
        _fitted(model, weights, pixels[fold != k], labels[fold != k], mix, seed + 1 + k, epochs)
        crossed[fold == k] = _probabilities(model, pixels[fold == k])
    verdict = gate.judge(labels, served_user, crossed, served_card["version"], used)
    said = verdict.said
    log.info("fine-tune gate: %s", said)
    if not verdict.shown:
        raise FinetuneError(
            f"{said}: no gain shown at {gate.CONFIDENCE:.0%} within the bounds; nothing published. {verdict.advice}"
        )
    # The bounds: MNIST's test digits and the renderings, read by the served version and by the final fine-tune.
    x_test = data.x_test / np.float32(255.0)
    model.set_weights(weights)
    renderings = gate.Renderings.of(data, rendering_count)
    mnist_before = _probabilities(model, x_test).argmax(axis=1)
    renderings_before = _probabilities(model, renderings.pixels).argmax(axis=1)
    history, repeats = _fitted(model, weights, pixels, labels, mix, seed, epochs)
    mnist_read = _probabilities(model, x_test).argmax(axis=1)  # once: for the bound and the confusion matrix
    before = {"user_held_out": verdict.served_share, "mnist_test": float((mnist_before == data.y_test).mean())}
    after = {"user_held_out": verdict.finetuned_share, "mnist_test": float((mnist_read == data.y_test).mean())}
    by_rendering = renderings.accuracies(renderings_before, _probabilities(model, renderings.pixels).argmax(axis=1))
    fallen = gate.fallen(before["mnist_test"], after["mnist_test"], by_rendering)
    if fallen:
        raise FinetuneError(f"{said}; but {fallen} (the first {rendering_count} MNIST test digits of each rendering); "
                            "nothing published")  # fmt: skip
    wall_time = time.perf_counter() - started
    log.info("fine-tune: published-to-be reads MNIST test %.4f (was %.4f)", after["mnist_test"], before["mnist_test"])
    proto = export.export_keras(model, doc="digit-serve cnn MNIST classifier, fine-tuned on its users' digits")
    probabilities = model.predict(x_test[:1000][..., np.newaxis], batch_size=512, verbose=0)
    parity = export.verify_parity(proto, x_test[:1000][..., np.newaxis].astype(np.float32), probabilities)
    onnx_bytes = proto.SerializeToString()
    sources = sorted(set(found.sources))
    bounds = {"max_mnist_drop": gate.MAX_MNIST_DROP, "max_rendering_drop": gate.MAX_RENDERING_DROP,
              "rendering_digits": rendering_count}  # fmt: skip
    card = {
        **{k: served_card[k] for k in ("name", "task", "inputs", "outputs", "preprocessing", "labels", "parameters")},
        "description": f"{served_card['description']}; fine-tuned on users' digits from v{served_card['version']}",
        "metrics": {
            "test_accuracy": round(after["mnist_test"], 6),
            "test_samples": len(data.y_test),
            "onnx_parity_max_abs_diff": parity,
            "finetune": {
                "before": before,
                "after": after,
                "gate": verdict.figures,
                "renderings": by_rendering,
                **bounds,
            },
        },
        "training": {
            "finetuned_from": served_card["version"],
            "epochs": epochs,
            "learning_rate": LEARNING_RATE,
            "seed": seed,
            "mnist_mixed_in": len(mix.pixels),
            "mix_targets": "the base version's probabilities (learning without forgetting)",
            "degraded_mixed_in": mix.degraded,
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
                "corrections": corrections_traced(found.corrections),
                "source_images": len(sources),
                "source_sha256": sources,
            },
        },
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    matrix = report.confusion_matrix(data.y_test, mnist_read)
    files = {"model.onnx": onnx_bytes, "report.png": report.classifier_report(
        f"cnn fine-tuned — cross-fitted user digits {after['user_held_out']:.3f}", history, matrix)}  # fmt: skip
    version, path = publish_version(model_dir, "cnn", files, card)
    model.save(path / "model.keras")
    return {
        "version": version, "path": str(path), "base": served_card["version"], "before": before, "after": after,
        "digits": len(labels), "gate": verdict.figures, "said": said, "renderings": by_rendering,
        "wall_time_s": wall_time,
    }  # fmt: skip
