"""The line reader: a small convolutional + recurrent network trained with CTC on synthetic lines (issue 37).

It reads a line crop (service/reading/linecrop.py: LINE_HEIGHT px high, any width) into the characters /read
writes, `?` for any other mark, without cutting the line into characters, as Tesseract's LSTM engine, EasyOCR's
CRNN and PaddleOCR's recognisers do. /read asks it beside the segmenting reader and says `is_number: true` only
where the two agree (service/core/assemble.py).

Four convolution blocks (16 to 96 channels) take the line to LINE_HEIGHT/16 rows and a quarter of its width;
two bidirectional GRUs read the columns; a softmax gives, per column, CTC's blank or a character. Trained with a
hand-written tf.function step (Keras `fit` ran the same model at about half the rate here) on lines drawn fresh
for every batch (training/datasets/linesynth.py), for a bounded time, with a checkpoint every few minutes that a later
run resumes from. Exported to ONNX at opset 17 (the GRUs become Loop nodes) and checked against Keras.

    python -m training linereader [--minutes 30] [--learning-rate 1e-3]  # trains (resuming training/runs/linereader),
                                                                          # gates, publishes
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from service.reading.linecrop import ALPHABET, LINE_HEIGHT, ctc_greedy
from training.datasets.linesynth import batch, bucketed
from training.datasets.mnist import load_mnist
from training.release import export
from training.release.publish import (
    GateRefused,
    existing_versions,
    publish_version,
    sha256_bytes,
)

CLASSES = 1 + len(ALPHABET)  # CTC's blank first
BATCH = 48
MINUTES = 30.0  # the training budget on this project's 2 cores (python -m training linereader --minutes)
LEARNING_RATE = 1e-3  # Adam's, from the first step; a resumed run may take a lower one (--learning-rate)
MIN_EXACT = 0.85  # the gate: held-out synthetic lines read exactly


def build_model():
    import keras
    from keras import layers

    pixels = keras.Input((LINE_HEIGHT, None, 1), name="pixels")
    x = pixels
    for channels, pool in ((16, (2, 2)), (32, (2, 2)), (64, (2, 1)), (96, (2, 1))):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool)(x)
    # (batch, 2, width/4, 96) -> (batch, width/4, 192): one feature vector per column
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((-1, (LINE_HEIGHT // 16) * 96))(x)
    x = layers.Bidirectional(layers.GRU(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.GRU(64, return_sequences=True))(x)
    probabilities = layers.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(pixels, probabilities, name="linereader")


def encode_labels(labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    length = np.array([len(label) for label in labels], np.int32)
    dense = np.zeros((len(labels), max(1, int(length.max()))), np.int32)
    for i, label in enumerate(labels):
        dense[i, : len(label)] = [ALPHABET.index(c) + 1 for c in label]
    return dense, length


def _producer(seed: int, mnist_dir: str | None, queue) -> None:
    rng = np.random.default_rng(seed)
    while True:  # lines of like width together: a batch padded to its widest line wastes less (about 2x faster)
        for item in bucketed(rng, mnist_dir, BATCH, 8):
            queue.put(item)


def validation(mnist_dir: str | None, count: int = 600) -> tuple[np.ndarray, list[str]]:
    return batch(np.random.default_rng(10_000), mnist_dir, count)


def read(model, lines: np.ndarray) -> list[str]:
    outputs = np.asarray(model(lines, training=False))
    return [ctc_greedy(row)[0] for row in outputs]


def train(
    mnist_dir: str | None, out: Path, minutes: float, seed: int = 0, learning_rate: float = LEARNING_RATE
) -> dict:
    import tensorflow as tf

    out.mkdir(parents=True, exist_ok=True)
    model = build_model()
    weights = out / "linereader.weights.h5"
    state_path = out / "state.json"
    state: dict[str, Any] = (
        json.loads(state_path.read_text()) if state_path.exists() else {"steps": 0, "seconds": 0.0, "log": []}
    )
    if weights.exists():
        model.load_weights(weights)
        print(f"resumed at step {state['steps']} ({state['seconds'] / 60:.1f} min trained)", flush=True)
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, LINE_HEIGHT, None, 1), tf.float32),
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def step(lines, labels, label_length):
        with tf.GradientTape() as tape:
            probabilities = model(lines, training=True)
            steps = tf.fill([tf.shape(lines)[0]], tf.shape(probabilities)[1])
            loss = tf.reduce_mean(
                tf.nn.ctc_loss(
                    labels, tf.math.log(probabilities + 1e-8), label_length, steps,
                    logits_time_major=False, blank_index=0,
                )
            )  # fmt: skip
        gradients = tape.gradient(loss, model.trainable_variables)
        gradients, _ = tf.clip_by_global_norm(gradients, 5.0)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    held_lines, held_labels = validation(mnist_dir)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=8)
    producer = context.Process(target=_producer, args=(seed + state["steps"], mnist_dir, queue), daemon=True)
    producer.start()
    every = int(os.environ.get("LINEREADER_EVERY", "200"))  # steps between a look at the held-out lines
    began = time.monotonic()
    last_save = began
    losses: list[float] = []
    try:
        while time.monotonic() - began < minutes * 60:
            lines, labels = queue.get(timeout=120)
            dense, length = encode_labels(labels)
            losses.append(float(step(lines, dense, length)))
            state["steps"] += 1
            if state["steps"] % every == 0 or time.monotonic() - last_save > 300:
                exact = float(np.mean([a == b for a, b in zip(read(model, held_lines), held_labels, strict=True)]))
                elapsed = state["seconds"] + time.monotonic() - began
                entry = {
                    "step": state["steps"],
                    "minutes": round(elapsed / 60, 1),
                    "loss": round(float(np.mean(losses[-200:])), 4),
                    "validation_exact": round(exact, 4),
                }
                state["log"].append(entry)
                print(json.dumps(entry), flush=True)
                model.save_weights(weights)
                state_path.write_text(json.dumps({**state, "seconds": elapsed}, indent=1))
                last_save = time.monotonic()
    finally:
        producer.terminate()
    state["seconds"] += time.monotonic() - began
    model.save_weights(weights)
    state_path.write_text(json.dumps(state, indent=1))
    return state


def export_model(model):
    """The Keras line reader as ONNX: `pixels` [batch, LINE_HEIGHT, width, 1] -> `probabilities` [batch, steps, C]."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec((None, LINE_HEIGHT, None, 1), tf.float32, name=export.CLASSIFIER_INPUT)
    function = tf.function(lambda pixels: model(pixels, training=False), input_signature=[spec])
    proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=export.OPSET)
    export._rename_output(proto.graph, export.CLASSIFIER_OUTPUT)
    export._name_batch_dimension(proto.graph.input)
    export._name_batch_dimension(proto.graph.output)
    proto.doc_string = "digit-serve linereader: a CTC line recogniser for the characters /read writes"
    proto.graph.name = "linereader"
    onnx.checker.check_model(proto, full_check=True)
    return proto


def publish(run: Path, model_dir: Path, mnist_dir: str | None, min_exact: float = MIN_EXACT) -> tuple[int, Path]:
    """Export the run's weights, check ONNX against Keras, gate on the held-out lines, publish the next version."""
    model = build_model()
    model.load_weights(run / "linereader.weights.h5")
    state = json.loads((run / "state.json").read_text())
    held_lines, held_labels = validation(mnist_dir)
    expected = np.asarray(model(held_lines, training=False))
    proto = export_model(model)
    actual = export.run_onnx(proto, held_lines)
    parity = float(np.max(np.abs(actual - expected)))
    if parity > 1e-4:
        raise export.ExportMismatch(f"the ONNX line reader differs from Keras by {parity:.3g}")
    exact = float(np.mean([ctc_greedy(row)[0] == label for row, label in zip(actual, held_labels, strict=True)]))
    if exact < min_exact:
        raise GateRefused(f"the line reader reads {exact:.4f} of held-out lines, under {min_exact}; nothing published")
    previous = existing_versions(model_dir, "linereader")
    if previous:
        card = json.loads((model_dir / "linereader" / str(previous[-1]) / "model.json").read_text())
        before = card["metrics"]["validation_exact"]
        if exact < before - 0.005:
            raise GateRefused(f"held-out lines read {exact:.4f}, under v{previous[-1]}'s {before}; nothing published")
    data = load_mnist(mnist_dir)
    onnx_bytes = proto.SerializeToString()
    card = {
        "name": "linereader",
        "task": "line-reading",
        "description": "a CTC line recogniser: a line of ink -> the characters /read writes (the second reader)",
        "inputs": [{"name": export.CLASSIFIER_INPUT, "datatype": "FP32", "shape": [-1, LINE_HEIGHT, -1, 1]}],
        "outputs": [{"name": export.CLASSIFIER_OUTPUT, "datatype": "FP32", "shape": [-1, -1, CLASSES]}],
        "preprocessing": "service/reading/linecrop.py: a line's ink, bright on dark, cropped with a margin, "
        f"{LINE_HEIGHT} px high, at full strength in [0, 1]; width a multiple of 4, padded with 0",
        "labels": ["<blank>", *ALPHABET],
        "parameters": int(model.count_params()),
        "metrics": {
            "validation_exact": round(exact, 4),
            "validation_lines": len(held_labels),
            "validation": "synthetic lines of the last 300 MNIST training digits of each class "
            "(training/datasets/linesynth.py, seed 10000), never trained on",
            "onnx_parity_max_abs_diff": parity,
        },
        "training": {
            "steps": state["steps"],
            "batch_size": BATCH,
            "lines_seen": state["steps"] * BATCH,
            "wall_time_s": round(state["seconds"], 1),
            "optimizer": "adam",
            "log": state["log"],
            "machine": f"{os.cpu_count()} CPU cores",
        },
        "data": {"source": data.source, "sha256": data.sha256, "digits": "MNIST training digits only"},
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    return publish_version(model_dir, "linereader", {"model.onnx": onnx_bytes}, card)
