"""Running the digit models on prepared 28x28 digits: the classifier's probabilities and the digit check's scores.

`/predict` and `/read` both come here, so a digit is classified, and checked, and counted, the same way whichever
endpoint it came through. The `isdigit` model (DIGIT_CHECK_MODEL, trained by training/learn/isdigit.py) scores the
inputs the classifier sees; a score at or above the threshold in its model.json is `"is_digit": true`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service import observability
from service.core.model import ModelVersion
from service.core.runner import ModelRunner


def classify(runner: ModelRunner, model: ModelVersion, digits: np.ndarray) -> np.ndarray:
    """`model`'s class probabilities for preprocessed 28x28 digits (N x 28 x 28), shaped as its input wants."""
    batch: np.ndarray = digits.reshape((len(digits), *model.input.shape[1:])).astype(model.input.dtype)
    return runner.infer_one(model, batch)


@dataclass(frozen=True)
class Checks:
    """The digit check's score for each of a batch of digits, and the threshold its model card sets."""

    scores: np.ndarray
    threshold: float

    @property
    def verdicts(self) -> list[bool]:
        """is_digit for each digit: its score at or above the threshold."""
        return (self.scores >= self.threshold).tolist()


def check(runner: ModelRunner, isdigit: ModelVersion | None, digits: np.ndarray, count: bool = True) -> Checks | None:
    """The digit check of preprocessed 28x28 digits (N x 28 x 28 in [0, 1]), counted in the metrics unless `count`
    is false (/read counts the characters it answers, not every cut it tried); None without the isdigit model or
    digits."""
    if isdigit is None or not len(digits):
        return None
    found = Checks(classify(runner, isdigit, digits)[:, -1], float(isdigit.card.get("threshold", 0.5)))
    if count:
        verdicts = found.verdicts
        observability.record_digit_checks(len(verdicts), verdicts.count(False))
    return found
