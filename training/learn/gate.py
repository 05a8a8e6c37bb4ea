"""The fine-tune's gate (training/learn/finetune.py): is the gain on the user's digits real, and does nothing else fall?

Cross-fitted (training/learn/corrections.py's folds): every user digit is judged by a model fine-tuned without it. Each
digit is one piece of evidence: was that model surer of the right digit than the served version, or less sure? A
one-sided exact sign test on those counts must show the gain at CONFIDENCE.

Why sureness: the read-right counts alone are too few to decide. A served version right on 97 % of 200 digits leaves
6 to fix, and even fixing all 6 and breaking none is p = 0.016; one broken makes it 0.0625. Why not any rise in the
right digit's probability (or its log-odds, tried first): it rises when a model merely grows less sure of a wrong
answer, so 200 corrections with shuffled labels "gained" on 175 (p = 3e-29); counted only above a guess among ten
(0.1), still on 38 against 19 (p = 0.008). Sureness counts only where the model gives the right digit more than
half its probability (READS), so a gain is a digit it comes to read surely or reads more surely, a loss the
reverse. (Fixed and broken, below, go by the answer the service gives, the likeliest digit; a digit can be read
right at under half, and then counts there but not here.)

Then what the user's digits read right may not fall by more than any rendering may (MAX_RENDERING_DROP: one digit in
200), and the version fine-tuned on all of them may fall by MAX_MNIST_DROP on MNIST's test digits and by
MAX_RENDERING_DROP on each of the 17 renderings of real handwriting `make evaluate` reads
(training/datasets/handwriting.py; the first RENDERING_DIGITS test digits of each, prepared as the service prepares
them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training.datasets import handwriting
from training.datasets.items import handwriting_items, prepare
from training.datasets.mnist import Mnist

CONFIDENCE = 0.95
MAX_MNIST_DROP = 0.002
MAX_RENDERING_DROP = 0.005
RENDERING_DIGITS = 1000  # MNIST test digits per rendering judged for MAX_RENDERING_DROP
READS = 0.5  # sureness counts where the right digit has more than this share: the model reads it


def sureness(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The probability a model gives each right digit, in float64, where it reads that digit (more than half of its
    probability, READS); none where it does not, so that a model merely less sure of a wrong answer does not count
    as reading better."""
    right = probabilities.astype(np.float64)[np.arange(len(labels)), labels]
    return np.where(right > READS, right, 0.0)


def paired_test(gained: int, lost: int) -> float:
    """The one-sided exact sign test's p-value that `gained` against `lost` is no real gain: the chance of at least
    `gained` heads in `gained + lost` fair coin tosses."""
    n = gained + lost
    if n == 0:
        return 1.0
    return sum(math.comb(n, i) for i in range(gained, n + 1)) / 2**n


def wilson(right: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson interval of a share `right / total`."""
    if total == 0:
        return 0.0, 1.0
    p = right / total
    centre, spread = p + z * z / (2 * total), z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    low, high = (centre - spread) / (1 + z * z / total), (centre + spread) / (1 + z * z / total)
    return max(0.0, low), min(1.0, high)


@dataclass
class Verdict:
    """The gate's verdict on the user's digits: shown or not, the line that says what was judged, what would change
    a refusal, and the figures the card keeps."""

    shown: bool
    said: str
    advice: str
    served_share: float
    finetuned_share: float
    figures: dict


def judge(labels: np.ndarray, served: np.ndarray, crossed: np.ndarray, version: int, folds: int) -> Verdict:
    """The verdict from the served version's and the cross-fitted models' probabilities (N, 10) of the user's
    digits."""
    served_right, crossed_right = served.argmax(axis=1) == labels, crossed.argmax(axis=1) == labels
    change = sureness(crossed, labels) - sureness(served, labels)
    rose, fell = int((change > 0).sum()), int((change < 0).sum())
    fixed, broken = int((~served_right & crossed_right).sum()), int((served_right & ~crossed_right).sum())
    p_value = paired_test(rose, fell)
    judged = len(labels)
    served_interval = wilson(int(served_right.sum()), judged)
    tuned_interval = wilson(int(crossed_right.sum()), judged)
    said = (
        f"judged {judged} user digits, each by a model fine-tuned without it ({folds} folds): it was surer of the "
        f"right digit than served v{version} on {rose}, less sure on {fell} (one-sided sign test p = {p_value:.3g}); "
        f"read right: served {served_right.mean():.4f} [{served_interval[0]:.3f}, {served_interval[1]:.3f}], "
        f"fine-tuned {crossed_right.mean():.4f} [{tuned_interval[0]:.3f}, {tuned_interval[1]:.3f}]; "
        f"fixed {fixed}, broke {broken}"
    )
    allowed = math.floor(MAX_RENDERING_DROP * judged)  # the user's digits are held to every rendering's bound
    gained = rose > fell and p_value <= 1 - CONFIDENCE
    shown = gained and broken - fixed <= allowed
    missed = {d: int(((labels == d) & ~served_right).sum()) for d in range(10)}
    worst = ", ".join(f"{d} ({n} misread)" for d, n in sorted(missed.items(), key=lambda kv: -kv[1]) if n)
    if shown:
        advice = ""
    elif broken - fixed > allowed:
        advice = (
            f"{'Surer as it is, t' if gained else 'T'}he fine-tune breaks more of the user's digits than it fixes (at "
            f"most {allowed} more may break): check that the corrections' labels are right (a wrong label teaches "
            "the wrong digit)."
        )
    else:
        advice = (
            "More corrections would decide it, above all of the digits the served version misreads: "
            f"{worst[:120] or 'none misread yet'}."
        )
    figures = {
        "judged_digits": judged,
        "folds": folds,
        "rose": rose,
        "fell": fell,
        "p_value": float(f"{p_value:.6g}"),
        "confidence": CONFIDENCE,
        "served_right": int(served_right.sum()),
        "finetuned_right": int(crossed_right.sum()),
        "served_interval": [round(v, 4) for v in served_interval],
        "finetuned_interval": [round(v, 4) for v in tuned_interval],
        "fixed": fixed,
        "broken": broken,
        "may_break_more": allowed,
    }
    return Verdict(shown, said, advice, float(served_right.mean()), float(crossed_right.mean()), figures)


@dataclass
class Renderings:
    """The first `count` MNIST test digits in each of `make evaluate`'s 17 renderings, as the service prepares them
    (zeros where it refuses an image, which then counts as wrong), with each one's rendering and label."""

    names: np.ndarray
    pixels: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, data: Mnist, count: int) -> Renderings:
        items = handwriting_items(data.x_test, data.y_test, count, handwriting.SEED)
        prepared = prepare(items)
        blank = np.zeros((28, 28), np.float32)
        pixels = np.stack([blank if a is None else np.asarray(a, np.float32).reshape(28, 28) for a in prepared])
        labels = np.array([-1 if a is None else item.label for item, a in zip(items, prepared, strict=True)])
        return cls(np.array([item.subset for item in items]), pixels, labels)

    def accuracies(self, before: np.ndarray, after: np.ndarray) -> dict[str, list[float]]:
        """{rendering: [accuracy before, after]}, in `make evaluate`'s order."""
        return {
            name: [round(float((read[self.names == name] == self.labels[self.names == name]).mean()), 4)
                   for read in (before, after)]
            for name in dict.fromkeys(self.names.tolist())
        }  # fmt: skip


def fallen(mnist_before: float, mnist_after: float, renderings: dict[str, list[float]]) -> str:
    """What fell beyond its bound ("" when nothing did)."""
    said = []
    if mnist_after < mnist_before - MAX_MNIST_DROP:
        said.append(f"MNIST test falls by more than {MAX_MNIST_DROP} ({mnist_before:.4f} -> {mnist_after:.4f})")
    worst = [f"{name} {b:.3f} -> {a:.3f}" for name, (b, a) in renderings.items() if a < b - MAX_RENDERING_DROP - 1e-9]
    if worst:
        said.append(f"real handwriting falls by more than {MAX_RENDERING_DROP} in {', '.join(worst)}")
    return "; ".join(said)
