"""How `/read` and `is_digit` do on sets of their own (training.evaluation.evaluate runs these for `make evaluate`).

- numbers (`eval/numbers`, training/datasets/numberset.py): each image read as `/read` reads it (the service's own
  segmentation and preprocessing, the newest CNN), scored by exact match of the text and by digit accuracy
  (1 - edit distance / length, at least 0), per subset;
- non-digits (`eval/non-digits`, training/datasets/nondigits.py): the share each kind the `isdigit` model rejects,
  as `/predict` would answer `"is_digit": false` (an image the preprocessing refuses counts as rejected);
- real digits: the share `is_digit` accepts, from the classifiers' own evaluation (training.evaluation.evaluate).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from service.bootstrap import build_runtime
from service.core.classify import check as check_digits
from service.core.model import load_version
from service.core.runner import ModelRunner
from service.errors import ServiceError
from service.settings import Settings
from training.datasets import nondigits, numberset
from training.datasets.items import Item, prepare
from training.evaluation.peers import DIGITS, SEPARATORS, PeerError, peer_python, run_peer
from training.release.publish import existing_versions

READER = "cnn"
ISDIGIT = "isdigit"
CHUNK = 2048  # digits per run of the check


def _load_newest(model_dir: Path, name: str):
    versions = existing_versions(model_dir, name)
    if not versions:
        return None
    return load_version(model_dir / name / str(versions[-1]), ["CPUExecutionProvider"], 1)


def check(digits: Sequence[np.ndarray | None], model_dir: Path) -> list[bool | None] | None:
    """is_digit for each preprocessed digit (None where the image was refused), as the service decides it
    (`service.core.classify.check`); None without an isdigit model."""
    isdigit = _load_newest(model_dir, ISDIGIT)
    if isdigit is None:
        return None
    usable = [d for d in digits if d is not None]
    runner = ModelRunner(CHUNK)
    verdicts: list[bool] = []
    for start in range(0, len(usable), CHUNK):
        checks = check_digits(runner, isdigit, np.stack(usable[start : start + CHUNK]))
        verdicts += checks.verdicts if checks is not None else []
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
    readings = read_written(written(folder, per_subset), model_dir)
    exact: dict[str, list[bool]] = defaultdict(list)
    digits: dict[str, list[float]] = defaultdict(list)
    for reading in readings:
        got, text = reading.text or "", reading.item.text
        exact[reading.item.subset].append(got == text)
        digits[reading.item.subset].append(max(0.0, 1 - edit_distance(got, text) / len(text)))
    report = {s: {"exact": float(np.mean(exact[s])), "digits": float(np.mean(digits[s]))} for s in exact}
    every_exact = [v for vs in exact.values() for v in vs]
    every_digit = [v for vs in digits.values() for v in vs]
    report["overall"] = {"exact": float(np.mean(every_exact)), "digits": float(np.mean(every_digit))}
    return {s: {k: round(v, 4) for k, v in figures.items()} for s, figures in report.items()}


def reject_non_digits(folder: Path, model_dir: Path, per_kind: int | None = None) -> dict[str, float] | None:
    """The share of each kind of non-digit is_digit rejects, and overall; None without an isdigit model."""
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


# -- reading what is written: any labelled set (labels.json, or the numbers set's file names) ---------------------
# The characters a number can hold; an expected text with any other (a $, a letter) or none at all is a
# foreign or blank image, which is read right when the service says it is not a number.
NUMBER_CHARS = frozenset("0123456789.,-/:\n")


def is_number_text(text: str) -> bool:
    return bool(text) and set(text) <= NUMBER_CHARS


@dataclass(frozen=True)
class Written:
    """One image of a labelled reading set: its subset, what is written on it, its bytes and its file name."""

    subset: str
    text: str
    data: bytes
    name: str


def written(folder: Path, per_subset: int | None = None) -> list[Written]:
    """A reading set: labels.json ({"<subset>/<file>": text}) where there is one, else the numbers set's
    `<subset>/<index>_<text>.<ext>` names; `per_subset` takes the first that many of each subset."""
    labels_file = folder / "labels.json"
    if not labels_file.is_file():
        return [
            Written(subset, text, data, f"{subset}/{i}")
            for i, (subset, text, data) in enumerate(numberset.load(folder, per_subset))
        ]
    labels: dict[str, str] = json.loads(labels_file.read_text(encoding="utf-8"))
    by_subset: dict[str, list[str]] = defaultdict(list)
    for name in sorted(labels):
        by_subset[name.split("/", 1)[0]].append(name)
    return [
        Written(subset, labels[name], (folder / name).read_bytes(), name)
        for subset, names in by_subset.items()
        for name in names[:per_subset]
    ]


@dataclass(frozen=True)
class Reading:
    """What the reader answered for one image: its text and is_number, or None for both when it refused it."""

    item: Written
    text: str | None
    is_number: bool | None
    seconds: float
    score: float = 1.0  # how sure the reader says it is: /read's confidence; a peer, which cannot abstain, 1

    @property
    def right(self) -> bool:
        """A number read exactly (every character, every line), or a foreign or blank image called no number."""
        if is_number_text(self.item.text):
            return self.text == self.item.text
        return self.is_number is not True

    @property
    def confidently_wrong(self) -> bool:
        """The worst answer: a number that is not what is written, with is_number true."""
        return self.is_number is True and not self.right


def read_written(items: Sequence[Written], model_dir: Path) -> list[Reading]:
    """Each image read in this process exactly as `POST /read` reads it (the runtime's own Digits.read)."""
    runtime = build_runtime(Settings(model_dir=model_dir, workers=1, max_instances=10_000, ort_threads=1))
    model = runtime.digits.model(READER, None)
    readings = []
    for item in items:
        started = time.perf_counter()
        try:
            body = runtime.digits.read(model, item.data).body
            text, is_number, score = body["text"], body.get("is_number"), float(body["confidence"])
        except ServiceError:
            text, is_number, score = None, None, 0.0
        readings.append(Reading(item, text, is_number, time.perf_counter() - started, score))
    return readings


def score_readings(readings: Sequence[Reading]) -> dict[str, dict[str, float]]:
    """Per subset and overall: the share read right, of numbers the exact-match share, of foreign or blank images
    the share called no number, and the share answered confidently wrong; with the counts."""
    groups: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        groups[reading.item.subset].append(reading)
    groups["overall"] = list(readings)
    report = {}
    for subset, found in groups.items():
        numbers = [r for r in found if is_number_text(r.item.text)]
        foreign = [r for r in found if not is_number_text(r.item.text)]
        sure = [r.right for r in found if r.is_number is True]
        report[subset] = {
            "images": len(found),
            "right": round(float(np.mean([r.right for r in found])), 4),
            "numbers": len(numbers),
            "exact": round(float(np.mean([r.right for r in numbers])), 4) if numbers else float("nan"),
            "foreign": len(foreign),
            "refused": round(float(np.mean([r.right for r in foreign])), 4) if foreign else float("nan"),
            "confidently_wrong": round(float(np.mean([r.confidently_wrong for r in found])), 4),
            # coverage: the share of numbers answered is_number true; precision when sure: the share of every
            # is_number true answer (numbers and foreign marks alike) that is right
            "coverage": round(float(np.mean([r.is_number is True for r in numbers])), 4) if numbers else float("nan"),
            "sure": len(sure),
            "precision_when_sure": round(float(np.mean(sure)), 4) if sure else float("nan"),
            "p50_ms": round(1000 * float(np.median([r.seconds for r in found])), 2),
        }
    return report


def render_readings(report: dict[str, dict[str, float]], title: str) -> str:
    def share(value: float) -> str:
        return "" if np.isnan(value) else f"{value:.3f}"

    lines = [
        f"## {title}",
        "",
        "| subset | images | exact match (numbers) | said not a number (foreign, blank) | confidently wrong "
        "| coverage | precision when sure | p50 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for subset in (*(s for s in report if s != "overall"), "overall"):
        f = report[subset]
        name = "**overall**" if subset == "overall" else subset
        lines.append(
            f"| {name} | {f['images']} | {share(f['exact'])} ({f['numbers']}) | {share(f['refused'])} ({f['foreign']}) "
            f"| {f['confidently_wrong']:.3f} | {share(f['coverage'])} "
            f"| {share(f['precision_when_sure'])} ({f['sure']}) | {f['p50_ms']:.1f} |"
        )
    return "\n".join(lines)


def risk_coverage(readings: Sequence[Reading]) -> list[tuple[float, float]]:
    """The reader's risk-coverage curve: its sure answers (is_number true) taken from the most confident down; at
    each, (coverage: the share of the numbers answered so far, risk: the share of the answers so far that are
    wrong). The last point is the reader as it answers; the curve left of it what a stricter threshold on its
    confidence would give."""
    numbers = sum(is_number_text(r.item.text) for r in readings)
    sure = sorted((r for r in readings if r.is_number is True), key=lambda r: -r.score)
    points, answered, wrong = [], 0, 0
    for taken, reading in enumerate(sure, start=1):
        answered += is_number_text(reading.item.text)
        wrong += not reading.right
        points.append((answered / max(1, numbers), wrong / taken))
    return points


def plot_risk_coverage(curves: dict[str, dict[str, list[Reading]]], path: Path) -> None:
    """One panel per reading set: each reader's risk-coverage curve (service) or point (a peer, which cannot
    abstain), to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.8), squeeze=False)
    for axis, (title, readers) in zip(axes[0], curves.items(), strict=True):
        for name, readings in readers.items():
            points = risk_coverage(readings)
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            if name == "digit-serve":
                axis.plot(xs, ys, label=f"{name} (by confidence)", color="C0")
                axis.plot(xs[-1:], ys[-1:], "o", color="C0")
            else:
                axis.plot(xs[-1:], ys[-1:], "s", label=name)
        axis.axhline(0.01, color="grey", linestyle=":", linewidth=1, label="risk 0.01 (precision 0.99)")
        axis.set(title=title, xlabel="coverage (numbers answered is_number true)", ylabel="risk (sure and wrong)")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, max(0.2, axis.get_ylim()[1]))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def wrong_readings(readings: Sequence[Reading]) -> list[str]:
    """One line per image read wrong: its name, what is written and what was read."""
    return [f"{r.item.name}: {r.item.text!r} -> {r.text!r} (is_number {r.is_number})" for r in readings if not r.right]


# -- the OCR peers beside the service (make evaluate PEERS=1; tools/peers) -----------------------------------------
PEER_NAMES = ("tesseract", "rapidocr", "easyocr")


def peers_set_up() -> list[str]:
    """The peers to run: Tesseract and RapidOCR (make peers), and EasyOCR where EASYOCR=1 made its venv."""
    found = []
    for peer in PEER_NAMES:
        try:
            peer_python(peer)
        except PeerError:
            if peer != "easyocr":
                raise
            continue
        found.append(peer)
    return found


def peer_readings(items: Sequence[Written], peer: str, several_lines: bool) -> list[Reading]:
    """What `peer` reads in each image, run as tools/peers runs it: its own environment, no network, configured as
    its users configure it for numbers (a whitelist of the digits and separators; one line, or a block of lines).
    A peer cannot abstain: an empty answer is its refusal, anything else it offers as a number."""
    import tempfile

    charset = DIGITS + SEPARATORS
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, item in enumerate(items):
            path = Path(tmp) / f"{i:05d}{Path(item.name).suffix or '.png'}"
            path.write_bytes(item.data)
            paths.append(path)
        results = run_peer(peer, paths, "lines" if several_lines else "line", charset)
    readings = []
    for item, path in zip(items, paths, strict=True):
        found = results.get(str(path), {})
        text = (found.get("text") or "").strip()
        readings.append(Reading(item, text or None, bool(text), float(found.get("seconds") or 0.0)))
    return readings


def render_side_by_side(reports: dict[str, dict[str, dict[str, float]]], title: str) -> str:
    """Per subset, each reader's share read right (numbers exactly; foreign and blank images refused) and p50."""
    names = list(reports)
    subsets = [s for s in next(iter(reports.values())) if s != "overall"] + ["overall"]
    lines = [
        f"## {title}",
        "",
        "| subset | " + " | ".join(f"{n}: right / confidently wrong / p50 ms" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for subset in subsets:
        cells = []
        for name in names:
            f = reports[name].get(subset)
            cells.append("" if f is None else f"{f['right']:.3f} / {f['confidently_wrong']:.3f} / {f['p50_ms']:.0f}")
        label = "**overall**" if subset == "overall" else subset
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
