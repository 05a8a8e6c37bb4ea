"""Digits and numbers: the predictions `/predict` and `/read` answer, and whether each image is a digit at all.

Both endpoints are thin over this module. A classifier's probabilities become predictions; the `isdigit`
model (DIGIT_CHECK_MODEL, trained by training/digitcheck.py) scores the same 28x28 inputs, and a score at or
above the threshold in its model.json is `"is_digit": true`. The classifiers cannot abstain (an MNIST model
reads a typed `A` as a 4 at 0.99999), so the label and confidence are kept as they are and is_digit says
whether to believe them. Without that model in the repository (or with DIGIT_CHECK_MODEL=off) is_digit is
left out. Every run goes through the data plane, a reading's digits in one batch.
"""

from __future__ import annotations

import math

import numpy as np

from service import observability
from service.dataplane import DataPlane
from service.errors import BadRequest, ModelNotFound
from service.model import ModelVersion
from service.preprocess.segment import Mark
from service.registry import ModelRegistry

OFF = "off"


def digit_checker(registry: ModelRegistry, name: str) -> ModelVersion | None:
    """The served version of the digit-or-not model, or None when it is off or not in the repository."""
    if name == OFF:
        return None
    try:
        return registry.get(name, None)
    except ModelNotFound:
        return None


def classify(dataplane: DataPlane, model: ModelVersion, digits: np.ndarray, secondary: bool = False) -> np.ndarray:
    """`model`'s class probabilities for preprocessed 28x28 digits (N x 28 x 28), shaped as its input wants.

    `secondary`: the digit check beside the request's own classifier (DataPlane.infer).
    """
    batch: np.ndarray = digits.reshape((len(digits), *model.input.shape[1:])).astype(model.input.dtype)
    return dataplane.infer_one(model, batch, secondary)


def check_digits(dataplane: DataPlane, checker: ModelVersion | None, digits: np.ndarray) -> list[bool] | None:
    """Whether each preprocessed 28x28 digit (N x 28 x 28 in [0, 1]) is a digit at all; None without a checker."""
    if checker is None:
        return None
    scores = classify(dataplane, checker, digits, secondary=True)[:, -1]
    verdicts = (scores >= float(checker.card.get("threshold", 0.5))).tolist()
    observability.record_digit_checks(len(verdicts), verdicts.count(False))
    return verdicts


def predictions(probabilities: np.ndarray, labels: list[str], is_digit: list[bool] | None = None) -> list[dict]:
    """One {label, confidence, probabilities[, is_digit]} per row of class probabilities."""
    winners = probabilities.argmax(axis=1)
    rounded = np.round(probabilities.astype(np.float64), 6)
    answers = [
        {
            "label": int(labels[w]) if labels and labels[w].isdigit() else int(w),
            "confidence": float(rounded[i, w]),
            "probabilities": rounded[i].tolist(),
        }
        for i, w in enumerate(winners)
    ]
    if is_digit is not None:
        for answer, verdict in zip(answers, is_digit, strict=True):
            answer["is_digit"] = verdict
    return answers


def reader(model: ModelVersion) -> ModelVersion:
    """`model` if it can read digits from images (a classifier whose labels are the ten digits)."""
    if model.task != "classification" or [str(d) for d in range(10)] != model.labels:
        raise BadRequest(f"model {model.name!r} does not read digits; /read takes a digit classifier such as cnn")
    return model


def read(dataplane: DataPlane, model: ModelVersion, checker: ModelVersion | None, marks: list[Mark]) -> dict:
    """The reading of an image's marks: its text, confidence and each digit with its box, left to right."""
    digits = np.stack([mark.digit for mark in marks])
    found = predictions(classify(dataplane, model, digits), model.labels, check_digits(dataplane, checker, digits))
    read_digits = []
    for mark, answer in zip(marks, found, strict=True):
        del answer["probabilities"]  # ten numbers per digit; /predict gives them for one digit
        read_digits.append({**answer, "box": list(mark.box)})
    confidence = math.prod(d["confidence"] for d in read_digits)
    body = {
        "model": model.name,
        "version": model.version,
        "text": "".join(str(d["label"]) for d in read_digits),
        "confidence": round(confidence, 6),
        "digits": read_digits,
    }
    if checker is not None:
        body["is_number"] = all(d["is_digit"] for d in read_digits)
    observability.record_reading(len(marks))
    return body
