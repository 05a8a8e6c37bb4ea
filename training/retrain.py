"""Train -> evaluate -> export -> verify -> gate -> publish, for one model."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.datasets.mnist import Mnist
from training.learn import charmodel, isdigit, linear, linereader
from training.learn.train import model_inputs, train_classifier
from training.release import export, report
from training.release.publish import GateRefused, publish_version, sha256_bytes

log = logging.getLogger("training")

MIN_ACCURACY = {"mlp": 0.989, "cnn": 0.993}  # what the published versions reach: no regression
MAX_DISTANCE = 1e-3  # linear: relative distance to numpy.polyfit's least-squares solution
PARITY_SAMPLES = 1_000
LABELS = [str(digit) for digit in range(10)]
PREPROCESSING = {
    "mlp": "grayscale 28x28, ink bright on dark, digit centred by mass; pixels/255 in [0, 1]; flattened to 784",
    "cnn": "grayscale 28x28x1, ink bright on dark, digit centred by mass; pixels/255 in [0, 1]",
    "linear": "none: one float x per instance",
    "isdigit": "the classifiers' own: grayscale 28x28x1, ink bright on dark, centred by mass; pixels/255 in [0, 1]",
}


@dataclass
class Outcome:
    name: str
    version: int
    path: Path
    metric_name: str
    metric: float
    parameters: int
    wall_time_s: float


@dataclass(frozen=True)
class RunOptions:
    model_dir: Path
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    limit: int | None = None
    min_accuracy: float | None = None  # classifiers: the lowest test accuracy that may be published
    max_distance: float | None = None  # linear: the largest relative distance to least squares
    save_keras: bool = True


def _tensor(name: str, shape: list[int]) -> dict:
    return {"name": name, "datatype": "FP32", "shape": shape}


def run_classifier(name: str, data: Mnist, options: RunOptions) -> Outcome:
    """Train an MNIST classifier and publish it as the next version."""
    trained = train_classifier(name, data.limited(options.limit), options.epochs, options.batch_size, options.seed)
    model = trained.model
    gate = MIN_ACCURACY[name] if options.min_accuracy is None else options.min_accuracy
    log.info(
        "%s: test accuracy %.4f (minimum %.4f) after %.1f s", name, trained.test_accuracy, gate, trained.wall_time_s
    )
    if trained.test_accuracy < gate:
        raise GateRefused(
            f"{name}: test accuracy {trained.test_accuracy:.4f} is under the minimum {gate:.4f}; nothing published"
        )
    proto = export.export_keras(model, doc=f"digit-serve {name} MNIST classifier")
    sample = model_inputs(name, data.x_test[:PARITY_SAMPLES])
    parity = export.verify_parity(proto, sample, trained.test_probabilities[:PARITY_SAMPLES])
    onnx_bytes = proto.SerializeToString()
    predicted = trained.test_probabilities.argmax(axis=1)
    matrix = report.confusion_matrix(data.y_test, predicted)
    input_shape = [-1, *model.input_shape[1:]]
    card = {
        "name": name,
        "task": "classification",
        "description": f"MNIST digit classifier ({name.upper()}), the deck's architecture",
        "inputs": [_tensor(export.CLASSIFIER_INPUT, input_shape)],
        "outputs": [_tensor(export.CLASSIFIER_OUTPUT, [-1, 10])],
        "preprocessing": PREPROCESSING[name],
        "labels": LABELS,
        "parameters": int(model.count_params()),
        "metrics": {
            "test_accuracy": round(trained.test_accuracy, 6),
            "test_loss": round(trained.test_loss, 6),
            "test_samples": len(data.y_test),
            "min_accuracy": gate,
            "onnx_parity_max_abs_diff": parity,
            "onnx_parity_samples": PARITY_SAMPLES,
        },
        "training": {**trained.settings, "wall_time_s": round(trained.wall_time_s, 1)},
        "data": {"source": data.source, "sha256": data.sha256, "limit": options.limit},
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    files = {
        "model.onnx": onnx_bytes,
        "report.png": report.classifier_report(
            f"{name} — test accuracy {trained.test_accuracy:.4f}", trained.history, matrix
        ),
    }
    version, path = publish_version(options.model_dir, name, files, card)
    if options.save_keras:
        model.save(path / "model.keras")
    return Outcome(
        name, version, path, "test accuracy", trained.test_accuracy, int(model.count_params()), trained.wall_time_s
    )


def run_digit_check(data: Mnist, options: RunOptions) -> Outcome:
    """Train the `isdigit` model, calibrate its threshold, and publish it as the next version."""
    scale = 1.0 if options.limit is None else min(1.0, options.limit / len(data.x_train))
    trained = isdigit.train(data, options.epochs or isdigit.EPOCHS, options.batch_size or 128, options.seed, scale)
    model, calibration = trained["model"], trained["calibration"]
    gate = isdigit.MIN_REJECTION if options.min_accuracy is None else options.min_accuracy
    log.info(
        "isdigit: threshold %.4f accepts %.4f of calibration digits, rejects %.4f of non-digits (minimum %.2f)",
        trained["threshold"], calibration["accepted"], calibration["rejected"], gate,
    )  # fmt: skip
    log.info("isdigit: right at that threshold, per kind: %s", calibration["correct_per_kind"])
    if calibration["rejected"] < gate:
        raise GateRefused(
            f"isdigit: rejects {calibration['rejected']:.4f} of the calibration non-digits at the threshold that "
            f"accepts {calibration['accepted']:.4f} of its digits, under the minimum {gate:.2f}; nothing published"
        )
    proto = export.export_keras(model, doc="digit-serve isdigit: is a preprocessed image a digit at all")
    parity = export.verify_parity(proto, trained["sample"], trained["sample_probabilities"])
    onnx_bytes = proto.SerializeToString()
    card = {
        "name": "isdigit",
        "task": "classification",
        "description": "digit or not: whether a preprocessed 28x28 image is a digit at all (is_digit in /predict)",
        "inputs": [_tensor(export.CLASSIFIER_INPUT, [-1, 28, 28, 1])],
        "outputs": [_tensor(export.CLASSIFIER_OUTPUT, [-1, 2])],
        "preprocessing": PREPROCESSING["isdigit"],
        "labels": isdigit.LABELS,
        "threshold": round(trained["threshold"], 6),
        "parameters": int(model.count_params()),
        "metrics": {
            "calibration": calibration,
            "min_rejection": gate,
            "onnx_parity_max_abs_diff": parity,
            "onnx_parity_samples": len(trained["sample"]),
        },
        "training": {**trained["settings"], "wall_time_s": round(trained["wall_time_s"], 1)},
        "data": {"source": data.source, "sha256": data.sha256, "limit": options.limit},
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    version, path = publish_version(options.model_dir, "isdigit", {"model.onnx": onnx_bytes}, card)
    if options.save_keras:
        model.save(path / "model.keras")
    return Outcome(
        "isdigit", version, path, "rejection", calibration["rejected"], int(model.count_params()),
        trained["wall_time_s"],
    )  # fmt: skip


def run_line_reader(
    data_dir: str | None, options: RunOptions, minutes: float, learning_rate: float = linereader.LEARNING_RATE
) -> Outcome:
    """Train the line reader for `minutes` (resuming its checkpoint), gate it, and publish it as the next version."""
    run = Path("training/runs/linereader")
    state = linereader.train(data_dir, run, minutes, seed=options.seed, learning_rate=learning_rate)
    gate = linereader.MIN_EXACT if options.min_accuracy is None else options.min_accuracy
    version, path = linereader.publish(run, options.model_dir, data_dir, gate)
    card = json.loads((path / "model.json").read_text())
    return Outcome(
        "linereader", version, path, "lines", card["metrics"]["validation_exact"], card["parameters"], state["seconds"]
    )


def run_char_model(data_dir: str | None, options: RunOptions) -> Outcome:
    """Train the character model on characters cut by /read's layout, gate it, and publish it as the next version."""
    model, history, timing = charmodel.train(
        charmodel.RUN, data_dir, charmodel.COUNT, options.epochs or charmodel.EPOCHS
    )
    version, path = charmodel.publish(model, charmodel.RUN, options.model_dir, data_dir, history, timing)
    card = json.loads((path / "model.json").read_text())
    return Outcome(
        "charmodel", version, path, "characters", card["metrics"]["held_out_accuracy"], card["parameters"],
        timing["data_s"] + timing["fit_s"],
    )  # fmt: skip


def run_linear(options: RunOptions) -> Outcome:
    """Fit the deck's perceptron on the seeded synthetic set and publish it as the next version."""
    x, y = linear.synthetic_data(seed=options.seed)
    started = time.perf_counter()
    model = linear.LinearRegressorGD(seed=options.seed).fit(x, y)
    wall_time = time.perf_counter() - started
    exact_w, exact_b = np.polyfit(x, y, 1)
    distance = max(abs(model.w - exact_w) / abs(exact_w), abs(model.b - exact_b) / abs(exact_b))
    tolerance = MAX_DISTANCE if options.max_distance is None else options.max_distance
    if distance > tolerance:
        raise GateRefused(
            f"linear: {distance:.2e} from the least-squares solution (> {tolerance:g}); nothing published"
        )
    proto = export.export_linear(model.w, model.b, doc="digit-serve linear regressor y = w*x + b")
    probe = np.linspace(-100, 100, 201, dtype=np.float32).reshape(-1, 1)
    parity = export.verify_parity(
        proto, probe, model.predict(probe).astype(np.float32), tolerance=1e-5 * 2200, classifier=False
    )  # float32 at |y| ~ 2000
    onnx_bytes = proto.SerializeToString()
    mse = model.loss(x, y)
    card = {
        "name": "linear",
        "task": "regression",
        "description": "the deck's perceptron y = w*x + b, trained by gradient descent in numpy",
        "inputs": [_tensor(export.LINEAR_INPUT, [-1, 1])],
        "outputs": [_tensor(export.LINEAR_OUTPUT, [-1, 1])],
        "preprocessing": PREPROCESSING["linear"],
        "labels": [],
        "parameters": 2,
        "coefficients": {"w": model.w, "b": model.b},
        "metrics": {
            "mse": round(mse, 6),
            "least_squares": {"w": float(exact_w), "b": float(exact_b)},
            "relative_distance_to_least_squares": distance,
            "onnx_parity_max_abs_diff": parity,
        },
        "training": {
            "optimizer": "full-batch gradient descent",
            "learning_rate": model.learning_rate,
            "max_iterations": model.max_iterations,
            "iterations": model.iterations,
            "tolerance": model.tolerance,
            "seed": options.seed,
            "wall_time_s": round(wall_time, 3),
        },
        "data": {
            "source": f"synthetic: x ~ U[1, 10], y = {linear.SYNTHETIC_W} x + {linear.SYNTHETIC_B} "
            f"+ N(0, {linear.SYNTHETIC_NOISE}^2), {len(x)} points, seed {options.seed}",
            "sha256": sha256_bytes(np.stack([x, y]).tobytes()),
        },
        "onnx": {"sha256": sha256_bytes(onnx_bytes), "opset": export.OPSET},
    }
    files = {
        "model.onnx": onnx_bytes,
        "report.png": report.linear_report(f"linear — MSE {mse:.1f}", x, y, model.w, model.b, model.loss_history),
    }
    version, path = publish_version(options.model_dir, "linear", files, card)
    return Outcome("linear", version, path, "mse", mse, 2, wall_time)


def request_reload(url: str, name: str, token: str | None, timeout: float = 30.0) -> str:
    """Ask a running service to load the newest version of `name` (Triton's repository extension)."""
    endpoint = f"{url.rstrip('/')}/v2/repository/models/{name}/load"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(endpoint, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"{endpoint}: {response.status} {response.read().decode(errors='replace')[:200]}"
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise RuntimeError(f"reload refused by {endpoint}: {exc.code} {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"reload failed, {endpoint} unreachable: {exc}") from None


def summary_table(outcomes: list[Outcome]) -> str:
    """A plain-text table: model, version, metric, parameters, wall time, path."""
    rows = [("model", "version", "metric", "params", "train time", "path")]
    for o in outcomes:
        value = {"test accuracy": f"acc {o.metric:.4f}", "rejection": f"rejects {o.metric:.4f}"}.get(
            o.metric_name, f"mse {o.metric:.2f}"
        )
        rows.append((o.name, str(o.version), value, f"{o.parameters:,}", f"{o.wall_time_s:.1f} s", str(o.path)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) for row in rows)
