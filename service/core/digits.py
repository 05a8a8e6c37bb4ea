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
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from service import observability
from service.core.linereader import join, line_reader, read_lines
from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, optional_model
from service.core.runner import ModelRunner
from service.core.served import Served
from service.core.validation import image_batch, number_batch
from service.errors import BadRequest, InvalidInput
from service.reading import DIGIT, Character, Page, Part, budget, mnist_from_image, read_image
from service.settings import Settings

DIGITS = frozenset("0123456789")


def digit_checker(registry: ModelRegistry, name: str) -> ModelVersion | None:
    """The served version of the digit-or-not model, or None when it is off or not in the repository."""
    return optional_model(registry, name)


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


# A line is a number when it is digits, with single separators between groups of them and perhaps a leading minus:
# 12.50, -7, 1,000, 2026-12-02, 12/31/2026, 10:45. Anything else (a "?", a separator at an end or doubled) is not.
NUMBER_LINE = re.compile(r"-?[0-9]+([.,/:-][0-9]+)*")
UNKNOWN = "?"
# Reading touching digits (`_path`): how far a digit's width may stray from its line's (a share of the line's
# height) before the models must believe it more, and what each digit of a path is worth (more digits, more cuts).
WIDTH_SPREAD = 0.6
PER_DIGIT = -1.5
# A mark the digit check scores under this share of its threshold is plainly no digit: "?" in the text.
FOREIGN = 0.25
# A glyph read as several touching digits is trusted only when every digit cut from it is confident: the
# classifier's top probability at least CUT_CONFIDENCE and the digit check at least CUT_CHECK times its threshold.
# Cut up, a `%`, an `m` or an `x` reads as digits that the check alone would pass ("96", "172", "28"); on the
# development set (training/readingdev, seed 1) this doubts 56 % of such cuts and keeps 96 % of the right ones.
# It must be wide enough too: at least CUT_WIDTH digits' widths of its line for each digit cut from it (on that
# set the right cuts are 1.8 digits wide or more for two digits, nine in ten of them; a cut-up `%` 1.2-1.7).
CUT_CONFIDENCE = 0.8
CUT_CHECK = 3.0
CUT_WIDTH = 0.75


# A slash stands in a date or a simple fraction: d/m, m/d, d/m/yy, d/m/yyyy, yyyy/m/d. Elsewhere ("751/12") the
# leaning stroke is read as the digit it looks like too, as a leaning 1 often does.
SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})(?:/(?:[0-9]{2}|[0-9]{4}))?|[0-9]{4}/([0-9]{1,2})/([0-9]{1,2})")


def slashed_date(text: str) -> bool:
    """Whether a line's text is a date or a fraction with slashes: "12/31/2026", "2/7/62", "3/4", "2026/12/02"."""
    found = SLASHED.fullmatch(text)
    if found is None:
        return False
    if found.group(3) is not None:
        return 1 <= int(found.group(3)) <= 12 and 1 <= int(found.group(4)) <= 31
    a, b = int(found.group(1)), int(found.group(2))
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _slashes_read(
    characters: list[Character], chosen: dict[int, list[tuple[Part, int]]], probabilities: np.ndarray, labels: list
) -> list[Character]:
    """A line's characters; where its slashes make no date (`slashed_date`), each slash read as its digit."""
    if not any(c.alternative is not None for c in characters):
        return characters
    text = "".join(
        c.kind
        if c.kind != DIGIT
        else "".join(str(labels[int(probabilities[row].argmax())]) for _, row in chosen[id(c)])
        for c in characters
    )
    if slashed_date(text):
        return characters
    return [c.alternative if c.alternative is not None else c for c in characters]


def _path(candidate: Character, scores: list[float]) -> list[int]:
    """The candidate digits (indices into `candidate.segments`) that read the glyph best: the path from its first
    cut point to its last whose digits the models believe most, each digit's belief its log score (the classifier's
    top probability times the digit check's) plus how usual its width is for its line, and PER_DIGIT for each."""
    best: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for node in range(1, candidate.last + 1):
        for index, segment in enumerate(candidate.segments):
            if segment.end != node or segment.start not in best:
                continue
            usual = -0.5 * ((segment.width - candidate.digit_width) / WIDTH_SPREAD) ** 2
            total = best[segment.start][0] + math.log(max(scores[index], 1e-6)) + usual + PER_DIGIT
            if node not in best or total > best[node][0]:
                best[node] = (total, [*best[segment.start][1], index])
    if candidate.last in best:
        return best[candidate.last][1]
    return [next(i for i, s in enumerate(candidate.segments) if (s.start, s.end) == (0, candidate.last))]


def read(runner: ModelRunner, model: ModelVersion, checker: ModelVersion | None, page: Page) -> dict:
    """What an image says: its text (lines joined by newlines), each line, and each character with its box.

    Every candidate digit of every glyph goes through the classifier (and the digit check) in one batch; each
    glyph reads as the path through its candidates the models believe most (`_path`): one digit, or the several
    that touch in it. A digit that is plainly none (the check all but rules it out, or a glyph too small for its
    line) is an unknown character, "?" in the text; one only doubted keeps its digit, with is_digit false.
    """
    candidates = [c for line in page.lines for c in line.characters if c.kind == DIGIT]
    candidates += [alt for line in page.lines for c in line.characters if (alt := c.alternative) is not None]
    parts = [segment.part for c in candidates for segment in c.segments]
    probabilities = checks = None
    if parts:
        digits = np.stack([part.digit for part in parts])
        probabilities = classify(runner, model, digits)
        if checker is not None:
            checks = classify(runner, checker, digits)[:, -1]
    threshold = float(checker.card.get("threshold", 0.5)) if checker is not None else 0.0
    at = 0
    chosen: dict[int, list[tuple[Part, int]]] = {}  # id(candidate) -> its digits with their rows in the batch
    for candidate in candidates:
        rows = list(range(at, at + len(candidate.segments)))
        at += len(candidate.segments)
        assert probabilities is not None
        scores = [float(probabilities[r].max()) * (float(checks[r]) if checks is not None else 1.0) for r in rows]
        chosen[id(candidate)] = [(candidate.segments[i].part, rows[i]) for i in _path(candidate, scores)]
    characters: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for number, line in enumerate(page.lines):
        found: list[dict[str, Any]] = []
        readable = (
            line.characters
            if probabilities is None
            else _slashes_read(line.characters, chosen, probabilities, model.labels)
        )
        for character in readable:
            if character.kind != DIGIT:
                found.append({"label": character.kind, "kind": "separator", "confidence": 1.0, "box": character.box})
                continue
            picked = chosen[id(character)]
            assert probabilities is not None
            # Several digits from one glyph: each must be sure of itself, or all are doubted (is_digit false).
            sure = len(picked) == 1 or (
                character.digits_wide >= CUT_WIDTH * len(picked)
                and all(
                    probabilities[row].max() >= CUT_CONFIDENCE
                    and (checks is None or checks[row] >= CUT_CHECK * threshold)
                    for _, row in picked
                )
            )
            for part, row in picked:
                winner = int(probabilities[row].argmax())
                entry: dict[str, Any] = {
                    "label": model.labels[winner],
                    "kind": "digit",
                    "confidence": round(float(probabilities[row, winner]), 6),
                    "box": part.box,
                }
                if checks is not None:
                    entry["is_digit"] = bool(checks[row] >= threshold) and not character.undersized and sure
                    # Doubted, the digit stays the best guess (is_number false says not to trust it); plainly no
                    # digit (a mark too small for its line, a letter or sign the check all but rules out), a "?".
                    if character.undersized or checks[row] < FOREIGN * threshold:
                        entry.update(kind="unknown", label=UNKNOWN, guess=int(model.labels[winner]))
                found.append(entry)
        for entry in found:
            entry["box"], entry["line"] = list(page.as_sent(entry["box"])), number
        text = "".join(entry["label"] for entry in found)
        lines.append({"text": text, "box": list(page.as_sent(line.box))})
        characters += found
    confidence = math.prod(c["confidence"] for c in characters)
    body: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "text": "\n".join(line["text"] for line in lines),
        "confidence": round(confidence, 6),
        "lines": lines,
        "characters": characters,
        # Deprecated (one release; docs/api.md): the digit characters alone, with integer labels, as before lines.
        "digits": [
            {
                "label": c["guess"] if c["kind"] == "unknown" else int(c["label"]),
                "confidence": c["confidence"],
                **({"is_digit": c["is_digit"]} if "is_digit" in c else {}),
                "box": c["box"],
            }
            for c in characters
            if c["kind"] != "separator"
        ],
    }
    if checker is not None:
        body["is_number"] = all(NUMBER_LINE.fullmatch(line["text"]) for line in lines) and all(
            c.get("is_digit", True) for c in characters
        )
    observability.record_reading(len(characters))
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
        with budget.time_budget(self.settings.read_budget_s):
            page = read_image(image, self.settings.max_image_pixels)
            budget.check("classifying the marks")
        observability.record_images(1)
        checker = self.checker()
        body = read(self.runner, model, checker, page)
        second = line_reader(self.registry, self.settings.line_reader_model)
        if second is not None:
            join(body, second, read_lines(self.runner, second, page.line_images()))
        marks = len(body["characters"])
        extra = {"marks": marks}
        if checker is not None:
            extra["non_digits"] = sum(c["kind"] == "unknown" for c in body["characters"])
        return Answer(body, Served(model.name, model.version, marks, extra))
