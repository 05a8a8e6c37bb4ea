"""The character model: which of the characters /read writes a mark is, seen in its line (issue 37).

The digit classifiers see a mark fitted to 28x28 as MNIST is, and the layout decides by geometry alone whether a
mark is a separator; neither can say that a mark is a letter, a `%` or a speck. This small CNN sees each mark
across its line's band (service/reading/charcrop.py) and names it: a digit, `. , - / :`, or "?" (anything else).
/read asks it of every character it wrote and says `is_number: true` only where it agrees
(service/core/assemble.py), so geometry is a prior it weighs, no longer the judge.

Trained on characters cut by /read's own layout from synthetic lines (training/datasets/charsynth.py), from seeds of
their own; gated on characters cut from lines of another seed.

    python -m training charmodel [--epochs 6]   # makes the data (cached in training/runs/charmodel), trains, publishes
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from service.reading.charcrop import CHAR_CLASSES, CHAR_SIZE
from training.datasets.charsynth import save_set
from training.datasets.mnist import load_mnist
from training.release import export
from training.release.publish import GateRefused, publish_version, sha256_bytes

TRAIN_SEED, HELD_OUT_SEED = 300, 400
COUNT = 120_000  # training characters: about 20,000 lines laid out, 5 minutes on this project's 2 cores
HELD_OUT = 6_000
EPOCHS = 6
MIN_ACCURACY = 0.95  # the gate: held-out characters named right
RUN = Path("training/runs/charmodel")


def build_model():
    import keras
    from keras import layers

    pixels = keras.Input((CHAR_SIZE, CHAR_SIZE, 1), name="pixels")
    x = pixels
    for channels in (16, 32, 64):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(96, activation="relu")(x)
    probabilities = layers.Dense(len(CHAR_CLASSES), activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="charmodel")


def _part(args: tuple[int, int, str | None, str]) -> None:
    seed, count, mnist_dir, path = args
    save_set(Path(path), seed, mnist_dir, count)


def data(run: Path, mnist_dir: str | None, count: int, seed: int, name: str, processes: int = 2) -> tuple:
    """`count` characters from `seed`, made in `processes` parts (cached in `run`), as float32 crops and classes."""
    run.mkdir(parents=True, exist_ok=True)
    parts = [
        (seed * 100 + i, count // processes, mnist_dir, str(run / f"{name}-{seed}-{i}.npz")) for i in range(processes)
    ]
    missing = [p for p in parts if not Path(p[3]).exists()]
    if missing:
        with multiprocessing.get_context("spawn").Pool(len(missing)) as pool:
            pool.map(_part, missing)
    loaded = [np.load(p[3]) for p in parts]
    x = np.concatenate([part["x"] for part in loaded]).astype(np.float32) / 255
    y = np.concatenate([part["y"] for part in loaded]).astype(np.int64)
    return x[..., None], y


def train(run: Path, mnist_dir: str | None, count: int, epochs: int) -> tuple:
    import keras

    began = time.monotonic()
    x, y = data(run, mnist_dir, count, TRAIN_SEED, "train")
    made = time.monotonic() - began
    keras.utils.set_random_seed(0)
    model = build_model()
    steps = epochs * (len(x) // 128)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=epochs, verbose=2)
    model.save_weights(run / "charmodel.weights.h5")
    timing = {"data_s": round(made, 1), "fit_s": round(time.monotonic() - began - made, 1), "characters": len(x)}
    return model, history.history, timing


def publish(model, run: Path, model_dir: Path, mnist_dir: str | None, history: dict, timing: dict) -> tuple[int, Path]:
    """Export, check ONNX against Keras, gate on held-out characters, publish the next version of `charmodel`."""
    x, y = data(run, mnist_dir, HELD_OUT, HELD_OUT_SEED, "held-out")
    expected = np.asarray(model(x, training=False))
    proto = export.export_keras(model, "digit-serve charmodel: a mark in its line -> a character /read writes, or ?")
    parity = export.verify_parity(proto, x, expected, tolerance=1e-4)
    found = expected.argmax(axis=1)
    accuracy = float(np.mean(found == y))
    per_class = {c: round(float(np.mean(found[y == i] == i)), 4) for i, c in enumerate(CHAR_CLASSES) if (y == i).any()}
    if accuracy < MIN_ACCURACY:
        raise GateRefused(f"the character model names {accuracy:.4f} of held-out marks, under {MIN_ACCURACY}")
    onnx_bytes = proto.SerializeToString()
    mnist = load_mnist(mnist_dir)
    card = {
        "name": "charmodel",
        "task": "character-reading",
        "description": "a mark seen across its line -> a digit, . , - / :, or ? (the third reader of /read)",
        "inputs": [{"name": export.CLASSIFIER_INPUT, "datatype": "FP32", "shape": [-1, CHAR_SIZE, CHAR_SIZE, 1]}],
        "outputs": [{"name": export.CLASSIFIER_OUTPUT, "datatype": "FP32", "shape": [-1, len(CHAR_CLASSES)]}],
        "preprocessing": "service/reading/charcrop.py: the mark's columns across its line's band, centred in a "
        f"square, {CHAR_SIZE} px, bright on dark at full strength in [0, 1]",
        "labels": list(CHAR_CLASSES),
        "parameters": int(model.count_params()),
        "metrics": {
            "held_out_accuracy": round(accuracy, 4),
            "held_out_per_class": per_class,
            "held_out_characters": len(y),
            "held_out": f"characters cut by /read's layout from synthetic lines of seed {HELD_OUT_SEED} "
            "(training/datasets/charsynth.py), never trained on",
            "onnx_parity_max_abs_diff": parity,
        },
        "training": {
            "epochs": len(history["loss"]),
            "characters": timing["characters"],
            "final_accuracy": round(float(history["accuracy"][-1]), 4),
            "data_seconds": timing["data_s"],
            "fit_seconds": timing["fit_s"],
            "optimizer": "adam, cosine decay from 2e-3",
            "machine": f"{os.cpu_count()} CPU cores",
        },
        "data": {"source": mnist.source, "sha256": mnist.sha256, "digits": "MNIST training digits only"},
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    return publish_version(model_dir, "charmodel", {"model.onnx": onnx_bytes}, card)
