"""Digits and numbers: what `/predict` and `/read` answer, and whether each image is a digit at all.

Both endpoints are thin over `Digits`. A classifier's probabilities become predictions; the `isdigit`
model (DIGIT_CHECK_MODEL, trained by training/digitcheck.py) scores the same 28x28 inputs, and a score at or
above the threshold in its model.json is `"is_digit": true`. The classifiers cannot abstain (an MNIST model
reads a typed `A` as a 4 at 0.99999), so the label and confidence are kept as they are and is_digit says
whether to believe them. Without that model in the repository (or with DIGIT_CHECK_MODEL=off) is_digit is
left out. Every run goes through the model runner, a reading's digits in one batch. Each operation returns
its answer and what it ran (`Served`), which the transport records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from service import observability
from service.core.model import ModelVersion
from service.core.registry import ModelRegistry
from service.core.runner import ModelRunner
from service.core.served import Served
from service.core.validation import image_batch, number_batch
from service.errors import BadRequest, InvalidInput, ModelNotFound
from service.reading import Mark, marks_from_image, mnist_from_image
from service.settings import Settings

OFF = "off"


def digit_checker(registry: ModelRegistry, name: str) -> ModelVersion | None:
    """The served version of the digit-or-not model, or None when it is off or not in the repository."""
    if name == OFF:
        return None
    try:
        return registry.get(name, None)
    except ModelNotFound:
        return None


def classify(runner: ModelRunner, model: ModelVersion, digits: np.ndarray) -> np.ndarray:
    """`model`'s class probabilities for preprocessed 28x28 digits (N x 28 x 28), shaped as its input wants."""
    batch: np.ndarray = digits.reshape((len(digits), *model.input.shape[1:])).astype(model.input.dtype)
    return runner.infer_one(model, batch)


def check_digits(runner: ModelRunner, checker: ModelVersion | None, digits: np.ndarray) -> list[bool] | None:
    """Whether each preprocessed 28x28 digit (N x 28 x 28 in [0, 1]) is a digit at all; None without a checker."""
    if checker is None:
        return None
    scores = classify(runner, checker, digits)[:, -1]
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


def read(runner: ModelRunner, model: ModelVersion, checker: ModelVersion | None, marks: list[Mark]) -> dict:
    """The reading of an image's marks: its text, confidence and each digit with its box, left to right."""
    digits = np.stack([mark.digit for mark in marks])
    found = predictions(classify(runner, model, digits), model.labels, check_digits(runner, checker, digits))
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


@dataclass(frozen=True)
class Answer:
    """An operation's JSON body and what it ran."""

    body: dict[str, Any]
    served: Served


class Digits:
    """The operations of `/predict` and `/read`, whatever transport carries them."""

    def __init__(self, settings: Settings, registry: ModelRegistry, runner: ModelRunner) -> None:
        self.settings = settings
        self.registry = registry
        self.runner = runner

    def model(self, name: object, version: object) -> ModelVersion:
        """The version a request names, or the default model's newest."""
        name = name or self.settings.default_model
        if not isinstance(name, str):
            raise InvalidInput(f"model must be a model name (a string), got {name!r}")
        return self.registry.get(name, version)  # type: ignore[arg-type]

    def checker(self) -> ModelVersion | None:
        """The digit-or-not model that answers is_digit, when the repository has it."""
        return digit_checker(self.registry, self.settings.digit_check_model)

    def predict_inputs(self, model: ModelVersion, inputs: Any) -> Answer:
        """Tensors the client prepared (numbers for the linear model, pixels for a classifier): no is_digit, as
        for /v2, since is_digit is for the images the service decodes."""
        batch = number_batch(inputs) if model.task == "regression" else image_batch(inputs, model.input.shape)
        outputs = self.runner.infer_one(model, batch)
        return self._answer(model, outputs, None, len(batch))

    def predict_images(self, model: ModelVersion, images: list[bytes], preprocessed: bool = False) -> Answer:
        """Images decoded and prepared as MNIST is, classified, each with is_digit."""
        if model.task != "classification":
            raise InvalidInput(f'model {model.name!r} takes numbers, not images; send JSON {{"inputs": [x, ...]}}')
        digits = np.stack([mnist_from_image(data, self.settings.max_image_pixels) for data in images])
        observability.record_images(len(digits))
        outputs = classify(self.runner, model, digits)
        answer = self._answer(model, outputs, digits, len(digits))
        if preprocessed:
            answer.body["preprocessed"] = np.round(digits.astype(np.float64), 4).tolist()
        return answer

    def _answer(self, model: ModelVersion, outputs: np.ndarray, digits: np.ndarray | None, count: int) -> Answer:
        extra: dict[str, int] = {}
        if model.task == "regression":
            # float32 carries about 7 significant digits; print no more than that.
            found: list = [float(f"{value:.7g}") for value in outputs[:, 0].tolist()]
        else:
            verdicts = None if digits is None else check_digits(self.runner, self.checker(), digits)
            if verdicts is not None:
                extra["non_digits"] = verdicts.count(False)
            found = predictions(outputs, model.labels, verdicts)
        body = {"model": model.name, "version": model.version, "predictions": found}
        return Answer(body, Served(model.name, model.version, count, extra))

    def read(self, model: ModelVersion, image: bytes) -> Answer:
        """The number in one image: its text and each character with its box."""
        model = reader(model)
        marks = marks_from_image(image, self.settings.max_image_pixels)
        observability.record_images(1)
        checker = self.checker()
        body = read(self.runner, model, checker, marks)
        extra = {"marks": len(marks)}
        if checker is not None:
            extra["non_digits"] = sum(not d["is_digit"] for d in body["digits"])
        return Answer(body, Served(model.name, model.version, len(marks), extra))
