"""Digits and numbers: what `/predict` and `/read` answer, and whether each image is a digit at all.

Both endpoints are thin over `Digits`. A classifier's probabilities become predictions; the `isdigit` model
(DIGIT_CHECK_MODEL) scores the same 28x28 inputs (service/core/classify.py), and says whether to believe them: the
classifiers cannot abstain (an MNIST model reads a typed `A` as a 4 at 0.99999). Without that model in the
repository (or with DIGIT_CHECK_MODEL=off) is_digit is left out. `Digits.read` is the one orchestrator of `/read`:
detect the lines (service/reading), recognise them with both readers (service/core/marks.py cuts and classifies
each mark; service/core/linereader.py reads each line whole), decode the marks, assemble the answer
(service/core/assemble.py). Each operation returns its answer and what it ran (`Served`), which the transport records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from service import observability
from service.core import marks
from service.core.assemble import assemble
from service.core.charmodel import char_model, name_characters
from service.core.classify import check, classify
from service.core.linereader import line_reader, read_lines
from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, optional_model
from service.core.runner import ModelRunner
from service.core.served import Served
from service.core.validation import image_batch, number_batch
from service.errors import BadRequest, InvalidInput
from service.reading import Page, budget, mnist_from_image, read_image
from service.settings import Settings

DIGITS = frozenset("0123456789")


def predictions(probabilities: np.ndarray, labels: list[str], is_digit: list[bool] | None = None) -> list[dict]:
    """One {label, confidence, probabilities[, is_digit]} per row of class probabilities."""
    winners = probabilities.argmax(axis=1)
    rounded = np.round(probabilities.astype(np.float64), 6)
    answers = [
        {
            "label": int(labels[w]) if labels and labels[w] in DIGITS else int(w),
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


def predictable(model: ModelVersion) -> ModelVersion:
    """`model` if /predict serves it (a classifier, or the linear model): the line reader and the character model
    are parts of /read, whose outputs /predict's predictions do not describe (the protocol's /v2 serves them)."""
    if model.task not in ("classification", "regression"):
        raise BadRequest(
            f"model {model.name!r} ({model.task}) is one of /read's readers: POST /read reads images with it, and "
            f"/v2/models/{model.name}/infer takes its tensors; /predict serves the classifiers and the linear model"
        )
    return model


def read_page(
    runner: ModelRunner,
    page: Page,
    model: ModelVersion,
    checker: ModelVersion | None,
    second: ModelVersion | None = None,
    third: ModelVersion | None = None,
) -> dict[str, Any]:
    """What a detected page says (the JSON body of /read), read by `model` and the digit check `checker`, and by the
    line reader `second` and the character model `third` where they are served."""
    # recognise: every candidate digit in one batch through the classifier and the check, as /predict runs them;
    # every line in one batch through the line reader
    candidates, digits = marks.candidate_digits(page)
    probabilities = classify(runner, model, digits) if len(digits) else np.zeros((0, len(model.labels)))
    checks = check(runner, checker, digits, count=False)
    readings = None if second is None else read_lines(runner, second, page.line_images())
    found = marks.decode(page, candidates, probabilities, checks, model.labels)  # decode: cuts, slashes, "?"
    named = None if third is None else name_characters(runner, third, page, found)  # each character written, named
    if checks is not None:  # counted as /predict counts them: one verdict per digit answered
        verdicts = [entry["is_digit"] for line in found for entry in line if "is_digit" in entry]
        observability.record_digit_checks(len(verdicts), verdicts.count(False))
    others = [(m, r) for m, r in ((second, readings), (third, named)) if m is not None and r is not None]
    return assemble(model, page, found, checker is not None, others)  # assemble: text, is_number


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
        """The digit-or-not model that answers is_digit, or None when it is off or not in the repository."""
        return optional_model(self.registry, self.settings.digit_check_model)

    def line_reader(self) -> ModelVersion | None:
        """The second reader of /read, or None when it is off or not in the repository."""
        return line_reader(self.registry, self.settings.line_reader_model)

    def predict_inputs(self, model: ModelVersion, inputs: Any) -> Answer:
        """Tensors the client prepared (numbers for the linear model, pixels for a classifier): no is_digit, as
        for /v2, since is_digit is for the images the service decodes."""
        batch = (
            number_batch(inputs) if predictable(model).task == "regression" else image_batch(inputs, model.input.shape)
        )
        outputs = self.runner.infer_one(model, batch)
        return self._answer(model, outputs, None, len(batch))

    def predict_images(self, model: ModelVersion, images: list[bytes], preprocessed: bool = False) -> Answer:
        """Images decoded and prepared as MNIST is, classified, each with is_digit."""
        if predictable(model).task != "classification":
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
            checks = None if digits is None else check(self.runner, self.checker(), digits)
            verdicts = None if checks is None else checks.verdicts
            if verdicts is not None:
                extra["non_digits"] = verdicts.count(False)
            found = predictions(outputs, model.labels, verdicts)
        body = {"model": model.name, "version": model.version, "predictions": found}
        return Answer(body, Served(model.name, model.version, count, extra))

    def read(self, model: ModelVersion, image: bytes) -> Answer:
        """The number in one image: its text, each line, and each character with its box."""
        model = reader(model)
        with budget.time_budget(self.settings.read_budget_s):
            page = read_image(image, self.settings.max_image_pixels)  # detect: lines of marks, and their ink
            budget.check("classifying the marks")
        observability.record_images(1)
        checker = self.checker()
        third = char_model(self.registry, self.settings.char_model)
        body = read_page(self.runner, page, model, checker, self.line_reader(), third)
        observability.record_reading(len(body["characters"]))
        extra = {"marks": len(body["characters"])}
        if checker is not None:
            extra["non_digits"] = sum(c["kind"] == "unknown" for c in body["characters"])
        return Answer(body, Served(model.name, model.version, extra["marks"], extra))
