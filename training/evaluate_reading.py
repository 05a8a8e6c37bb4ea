"""How `/read` and `is_digit` do on sets of their own (training.evaluate runs these for `make evaluate`).

- numbers (`eval/numbers`, training/numberset.py): each image read as `/read` reads it (the service's own
  segmentation and preprocessing, the newest CNN), scored by exact match of the text and by digit accuracy
  (1 - edit distance / length, at least 0), per subset;
- non-digits (`eval/non-digits`, training/nondigits.py): the share each kind the `isdigit` model rejects,
  as `/predict` would answer `"is_digit": false` (an image the preprocessing refuses counts as rejected);
- real digits: the share `is_digit` accepts, from the classifiers' own evaluation (training.evaluate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from training import nondigits, numberset
from training.publish import existing_versions

READER = "cnn"
CHECKER = "isdigit"
CHUNK = 2048  # digits per run of the check


def _load_newest(model_dir: Path, name: str):
    from service.core.model import load_version

    versions = existing_versions(model_dir, name)
    if not versions:
        return None
    return load_version(model_dir / name / str(versions[-1]), ["CPUExecutionProvider"], 1)


def check(digits: Sequence[np.ndarray | None], model_dir: Path) -> list[bool | None] | None:
    """is_digit for each preprocessed digit (None where the image was refused), as the service decides it
    (`service.core.digits.check_digits`); None without an isdigit model."""
    from service.core.digits import check_digits
    from service.core.runner import ModelRunner

    checker = _load_newest(model_dir, CHECKER)
    if checker is None:
        return None
    usable = [d for d in digits if d is not None]
    runner = ModelRunner(CHUNK)
    verdicts: list[bool] = []
    for start in range(0, len(usable), CHUNK):
        verdicts += check_digits(runner, checker, np.stack(usable[start : start + CHUNK])) or []
    found = iter(verdicts)
    return [next(found) if d is not None else None for d in digits]


def acceptance(subsets: Sequence[str], verdicts: Sequence[bool | None]) -> dict[str, float]:
    """The share of real digits is_digit accepts, overall and per subset (a refused image is not accepted)."""
    per: dict[str, list[bool]] = defaultdict(list)
    for subset, verdict in zip(subsets, verdicts, strict=True):
        per[subset].append(verdict is True)
    every = [v for vs in per.values() for v in vs]
    return {"overall": round(float(np.mean(every)), 4), **{s: round(float(np.mean(v)), 4) for s, v in per.items()}}


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (char != other))
    return row[-1]


def read_numbers(folder: Path, model_dir: Path, per_subset: int | None = None) -> dict[str, dict[str, float]]:
    """Per subset and overall: exact match of the text read and digit accuracy, over the numbers set."""
    from service.core.digits import read
    from service.core.runner import ModelRunner
    from service.errors import ServiceError
    from service.reading import marks_from_image

    model = _load_newest(model_dir, READER)
    runner = ModelRunner(10_000)
    exact: dict[str, list[bool]] = defaultdict(list)
    digits: dict[str, list[float]] = defaultdict(list)
    for subset, text, data in numberset.load(folder, per_subset):
        try:
            got = read(runner, model, None, marks_from_image(data, 25_000_000))["text"]
        except ServiceError:
            got = ""
        exact[subset].append(got == text)
        digits[subset].append(max(0.0, 1 - edit_distance(got, text) / len(text)))
    report = {s: {"exact": float(np.mean(exact[s])), "digits": float(np.mean(digits[s]))} for s in exact}
    every_exact = [v for vs in exact.values() for v in vs]
    every_digit = [v for vs in digits.values() for v in vs]
    report["overall"] = {"exact": float(np.mean(every_exact)), "digits": float(np.mean(every_digit))}
    return {s: {k: round(v, 4) for k, v in figures.items()} for s, figures in report.items()}


def reject_non_digits(folder: Path, model_dir: Path, per_kind: int | None = None) -> dict[str, float] | None:
    """The share of each kind of non-digit is_digit rejects, and overall; None without an isdigit model."""
    from training.evaluate import Item, prepare

    items = nondigits.load(folder, per_kind)
    # Refused outright (None: no digit found) is a rejection too.
    digits = prepare([Item(kind, -1, partial(bytes, data)) for kind, data in items])
    verdicts = check(digits, model_dir)
    if verdicts is None:
        return None
    per: dict[str, list[bool]] = defaultdict(list)
    for (kind, _), verdict in zip(items, verdicts, strict=True):
        per[kind].append(verdict is not True)
    every = [v for vs in per.values() for v in vs]
    return {"overall": round(float(np.mean(every)), 4), **{k: round(float(np.mean(v)), 4) for k, v in per.items()}}


def render_numbers(report: dict[str, dict[str, float]], title: str) -> str:
    lines = [f"## {title}", "", "| subset | exact match | digit accuracy |", "|---|---|---|"]
    for subset in ("overall", *(s for s in report if s != "overall")):
        figures = report[subset]
        bold = "**" if subset == "overall" else ""
        lines.append(f"| {bold}{subset}{bold} | {bold}{figures['exact']:.3f}{bold} | {figures['digits']:.3f} |")
    return "\n".join(lines)


def render_shares(shares: dict[str, float], title: str, what: str) -> str:
    lines = [f"## {title}", "", f"| subset | {what} |", "|---|---|"]
    for subset, share in shares.items():
        lines.append(f"| {'**overall**' if subset == 'overall' else subset} | {share:.3f} |")
    return "\n".join(lines)
