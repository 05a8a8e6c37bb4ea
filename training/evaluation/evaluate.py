"""How the served classifiers do on digits people send: `python -m training evaluate`.

    python -m training evaluate [--set eval/real-world] [--handwriting] [--development] [--sample N]
                                [--numbers eval/numbers] [--non-digits eval/non-digits]
                                [--url http://127.0.0.1:8000] [--model-dir models] [--write-cards]
                                [--contact-sheet PATH]

Two yardsticks, each reported per subset and overall, with a confusion matrix per model:
- the committed synthetic set (`--set`, training/datasets/evalset.py): typed, framed, drawn, photographed, faint;
- real handwriting (`--handwriting`, training/datasets/handwriting.py): MNIST's 10,000 test digits rendered in
  every way users send digits (needs the MNIST files: --data-dir or MNIST_DIR). `--development` renders
  MNIST's training digits from another seed instead: the set to tune preprocessing on.
Every image goes through the service's own preprocessing (spread over the machine's cores) and the newest
version of each classifier, in this process with onnxruntime (or, with --url, over HTTP against a running
server). An image the preprocessing refuses (no ink found) counts as wrong. --write-cards records the
figures in each evaluated version's model.json under metrics; --contact-sheet draws misclassified images.
In process, the share of these real digits the `isdigit` model accepts (is_digit) is reported too; --numbers
and --non-digits score `/read` and is_digit on sets of their own (training/evaluation/reading.py).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from service.core.model import load_version
from training.datasets import handwriting
from training.datasets.items import Item, committed_items, handwriting_items, prepare
from training.datasets.mnist import DatasetError, load_mnist
from training.evaluation import reading as evaluate_reading
from training.release.publish import existing_versions

CLASSIFIERS = ("mlp", "cnn")
# The most misclassified images of one subset drawn on the contact sheet.
SHEET_PER_SUBSET = 24


def _newest(model_dir: Path, name: str) -> Path:
    return model_dir / name / str(existing_versions(model_dir, name)[-1])


def predict_in_process(items: Sequence[Item], model_dir: Path, with_check: bool = False) -> dict[str, list]:
    """Each model's digit per image (None where the preprocessing refused the image).

    `with_check`: also "isdigit", each image's is_digit (when the repository has that model).
    """
    digits = prepare(items)
    usable = [d for d in digits if d is not None]
    answers: dict[str, list] = {}
    for name in CLASSIFIERS:
        model = load_version(_newest(model_dir, name), ["CPUExecutionProvider"], 1)
        predicted: list[int] = []
        for start in range(0, len(usable), 1024):
            batch = np.stack(usable[start : start + 1024]).astype(np.float32)
            batch = batch.reshape(len(batch), *model.input.shape[1:])
            predicted += model.run({model.input.name: batch})[0].argmax(axis=1).tolist()
        found = iter(predicted)
        answers[name] = [next(found) if d is not None else None for d in digits]
    verdicts = evaluate_reading.check(digits, model_dir) if with_check else None
    if verdicts is not None:
        answers[evaluate_reading.ISDIGIT] = verdicts
    return answers


def predict_over_http(items: Sequence[Item], url: str) -> dict[str, list[int | None]]:
    import requests

    answers: dict[str, list[int | None]] = {name: [] for name in CLASSIFIERS}
    with requests.Session() as session:
        for item in items:
            data = item.make()
            for name in CLASSIFIERS:
                response = session.post(
                    f"{url}/predict",
                    params={"model": name},
                    data=data,
                    headers={"Content-Type": "application/octet-stream"},
                    timeout=30,
                )
                answers[name].append(response.json()["predictions"][0]["label"] if response.ok else None)
    return answers


def score(items: Sequence[Item], answers: dict[str, list[int | None]]) -> dict[str, dict]:
    """Per model: accuracy overall and per subset, the confusion matrix (rows: true digit; column 10: refused)."""
    report = {}
    for name, predicted in answers.items():
        if name == evaluate_reading.ISDIGIT:
            continue  # is_digit verdicts, scored by evaluate_reading.acceptance
        per_subset: dict[str, list[bool]] = defaultdict(list)
        matrix = np.zeros((10, 11), dtype=int)
        for item, guess in zip(items, predicted, strict=True):
            per_subset[item.subset].append(guess == item.label)
            matrix[item.label, 10 if guess is None else guess] += 1
        right = [ok for oks in per_subset.values() for ok in oks]
        report[name] = {
            "accuracy": round(float(np.mean(right)), 4),
            "images": len(right),
            "subsets": {s: round(float(np.mean(oks)), 4) for s, oks in per_subset.items()},
            "confusion": matrix.tolist(),
        }
    return report


def render(report: dict[str, dict], title: str) -> str:
    """The report as Markdown: one row per model, then one row per subset with both models side by side."""
    subsets = list(next(iter(report.values()))["subsets"])
    lines = [f"## {title}", "", "| subset | " + " | ".join(report) + " |", "|---" * (len(report) + 1) + "|"]
    lines.append("| **overall** | " + " | ".join(f"**{found['accuracy']:.3f}**" for found in report.values()) + " |")
    for subset in subsets:
        lines.append(
            f"| {subset} | " + " | ".join(f"{found['subsets'][subset]:.3f}" for found in report.values()) + " |"
        )
    for name, found in report.items():
        lines += [
            "",
            f"{name}: true digit (rows) against answer (columns; '-' = no ink found)",
            "    " + " ".join(f"{c:>5}" for c in [*range(10), "-"]),
        ]
        lines += [f"{row:>3} " + " ".join(f"{v:>5}" for v in counts) for row, counts in enumerate(found["confusion"])]
    return "\n".join(lines)


def contact_sheet(items: Sequence[Item], answers: dict[str, list[int | None]], path: Path) -> int:
    """A grid of images some model got wrong (at most SHEET_PER_SUBSET a subset), captioned with both answers."""
    from PIL import Image, ImageDraw

    wrong = [i for i, item in enumerate(items) if any(answers[n][i] != item.label for n in answers)]
    shown: list[int] = []
    per_subset: dict[str, int] = defaultdict(int)
    for index in wrong:
        per_subset[items[index].subset] += 1
        if per_subset[items[index].subset] <= SHEET_PER_SUBSET:
            shown.append(index)
    columns, cell = 12, 96
    rows = max(1, -(-len(shown) // columns))
    sheet = Image.new("RGB", (columns * cell, rows * (cell + 26)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, index in enumerate(shown):
        item = items[index]
        image = Image.open(io.BytesIO(item.make())).convert("RGBA")
        flat = Image.new("RGBA", image.size, "white")
        flat.alpha_composite(image)
        flat.thumbnail((cell - 4, cell - 4))
        x, y = (position % columns) * cell, (position // columns) * (cell + 26)
        sheet.paste(flat.convert("RGB"), (x + 2, y + 2))
        said = "/".join("-" if answers[n][index] is None else str(answers[n][index]) for n in CLASSIFIERS)
        draw.text((x + 2, y + cell - 2), f"{item.label}: {said}", fill="red")
        draw.text((x + 2, y + cell + 10), item.subset[:15], fill="gray")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return len(wrong)


def _record(model_dir: Path, report: dict[str, dict], key: str, source: str) -> None:
    for name, found in report.items():
        card_path = _newest(model_dir, name) / "model.json"
        card = json.loads(card_path.read_text())
        card.setdefault("metrics", {})[key] = {
            "set": source,
            "accuracy": found["accuracy"],
            "images": found["images"],
            "subsets": found["subsets"],
        }
        card_path.write_text(json.dumps(card, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--set", help="the committed synthetic set (default eval/real-world, unless --handwriting)")
    parser.add_argument("--handwriting", action="store_true", help="real handwriting: MNIST digits as users send them")
    parser.add_argument("--development", action="store_true", help="with --handwriting: the development set")
    parser.add_argument("--data-dir", help="the MNIST IDX files for --handwriting (default $MNIST_DIR)")
    parser.add_argument("--model-dir", default="models")
    parser.add_argument("--sample", type=int, help="the first N images of each subset")
    parser.add_argument("--url", help="evaluate a running server over HTTP instead of in process")
    parser.add_argument("--write-cards", action="store_true", help="record the figures in each model.json")
    parser.add_argument("--contact-sheet", help="write the misclassified images to this PNG")
    parser.add_argument("--numbers", help="score /read on this numbers set (eval/numbers)")
    parser.add_argument("--non-digits", help="score is_digit's rejection on this set (eval/non-digits)")
    parser.add_argument(
        "--reading",
        nargs="+",
        default=[],
        help="score /read on these labelled sets (eval/numbers eval/amounts eval/lines, or a development set)",
    )
    parser.add_argument("--peers", action="store_true", help="with --reading: the OCR peers beside /read")
    parser.add_argument("--risk-plot", help="with --reading: write each set's risk-coverage curves to this PNG")
    args = parser.parse_args(argv)
    runs: list[tuple[str, str, str, list[Item]]] = []  # (title, card key, source, items)
    if args.set or not (args.handwriting or args.numbers or args.non_digits or args.reading):
        folder = args.set or "eval/real-world"
        runs.append(("Synthetic set: " + folder, "real_world", folder, committed_items(Path(folder), args.sample)))
    if args.handwriting:
        try:
            mnist = load_mnist(args.data_dir)
        except DatasetError as exc:
            print(exc, file=sys.stderr)
            return 2
        if args.development:
            images, labels, seed, source = mnist.x_train, mnist.y_train, handwriting.DEVELOPMENT_SEED, "train"
        else:
            images, labels, seed, source = mnist.x_test, mnist.y_test, handwriting.SEED, "test"
        title = f"Real handwriting: MNIST {source} digits, seed {seed}"
        runs.append(
            (title, "handwriting", f"mnist-{source}/seed-{seed}", handwriting_items(images, labels, args.sample, seed))
        )
    everything: list[Item] = []
    merged: dict[str, list[int | None]] = {name: [] for name in CLASSIFIERS}
    for title, key, source, items in runs:
        if not items:
            print(f"no images in {source}", file=sys.stderr)
            return 2
        answers: dict[str, list] = (
            predict_over_http(items, args.url) if args.url else predict_in_process(items, Path(args.model_dir), True)
        )
        report = score(items, answers)
        print(render(report, f"{title} ({len(items)} images)") + "\n")
        if evaluate_reading.ISDIGIT in answers:
            accepted = evaluate_reading.acceptance([i.subset for i in items], answers[evaluate_reading.ISDIGIT])
            print(evaluate_reading.render_shares(accepted, f"is_digit on {source}", "real digits accepted") + "\n")
        if args.write_cards and not args.development:
            _record(Path(args.model_dir), report, key, source)
        everything += items
        for name in CLASSIFIERS:
            merged[name] += answers[name]
    if args.numbers:
        numbers = evaluate_reading.read_numbers(Path(args.numbers), Path(args.model_dir), args.sample)
        print(evaluate_reading.render_numbers(numbers, f"/read on {args.numbers} ({evaluate_reading.READER})") + "\n")
    if args.non_digits:
        rejected = evaluate_reading.reject_non_digits(Path(args.non_digits), Path(args.model_dir), args.sample)
        if rejected is None:
            print(f"no {evaluate_reading.ISDIGIT} model in {args.model_dir}: is_digit not evaluated", file=sys.stderr)
        else:
            print(evaluate_reading.render_shares(rejected, f"is_digit on {args.non_digits}", "non-digits rejected"))
    curves: dict[str, dict[str, list[evaluate_reading.Reading]]] = {}
    for folder in map(Path, args.reading):
        pages = evaluate_reading.written(folder, args.sample)
        readings = evaluate_reading.read_written(pages, Path(args.model_dir))
        curves[str(folder)] = {"digit-serve": readings}
        reports = {"digit-serve": evaluate_reading.score_readings(readings)}
        print(evaluate_reading.render_readings(reports["digit-serve"], f"/read on {folder}") + "\n")
        if args.peers:
            several = any("\n" in page.text for page in pages)
            for peer in evaluate_reading.peers_set_up():
                found = evaluate_reading.peer_readings(pages, peer, several)
                curves[str(folder)][peer] = found
                reports[peer] = evaluate_reading.score_readings(found)
            print(evaluate_reading.render_side_by_side(reports, f"/read and the OCR peers on {folder}") + "\n")
    if args.risk_plot and curves:
        evaluate_reading.plot_risk_coverage(curves, Path(args.risk_plot))
        print(f"risk-coverage curves of {len(curves)} sets in {args.risk_plot}")
    if args.contact_sheet and everything:
        wrong = contact_sheet(everything, merged, Path(args.contact_sheet))
        print(f"{wrong} misclassified images; up to {SHEET_PER_SUBSET} a subset in {args.contact_sheet}")
    return 0
