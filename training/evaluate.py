"""How the served classifiers do on digits that are not MNIST: `python -m training.evaluate`.

    python -m training.evaluate [--set eval/real-world] [--sample N] [--url http://127.0.0.1:8000]
                                [--model-dir models] [--write-cards] [--contact-sheet PATH]

Every image of the committed evaluation set (training/evalset.py) goes through the service's own
preprocessing and the newest version of each classifier in the model repository, in this process with
onnxruntime (or, with --url, over HTTP against a running server). Prints accuracy per subset and overall,
and a confusion matrix per model. An image the preprocessing refuses (no ink found) counts as wrong.
--write-cards records the figures in each evaluated version's model.json under metrics.real_world;
--contact-sheet draws the misclassified images with what each model said.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.evalset import SUBSETS, load
from training.publish import existing_versions

CLASSIFIERS = ("mlp", "cnn")


def _newest(model_dir: Path, name: str) -> Path:
    return model_dir / name / str(existing_versions(model_dir, name)[-1])


def predict_in_process(items: list[tuple[str, int, bytes]], model_dir: Path) -> dict[str, list[int | None]]:
    """Each model's digit per image (None where the preprocessing refused the image)."""
    from service.errors import ServiceError
    from service.model import load_version
    from service.preprocess import mnist_from_image

    digits: list[np.ndarray | None] = []
    for _, _, data in items:
        try:
            digits.append(mnist_from_image(data, 25_000_000))
        except ServiceError:
            digits.append(None)
    answers: dict[str, list[int | None]] = {}
    for name in CLASSIFIERS:
        model = load_version(_newest(model_dir, name), ["CPUExecutionProvider"], 1)
        usable = [d for d in digits if d is not None]
        batch = np.stack(usable).reshape(len(usable), *model.input.shape[1:]).astype(np.float32)
        predicted = iter(model.run({model.input.name: batch})[0].argmax(axis=1).tolist())
        answers[name] = [next(predicted) if d is not None else None for d in digits]
    return answers


def predict_over_http(items: list[tuple[str, int, bytes]], url: str) -> dict[str, list[int | None]]:
    import requests

    answers: dict[str, list[int | None]] = {name: [] for name in CLASSIFIERS}
    with requests.Session() as session:
        for _, _, data in items:
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


def score(items: list[tuple[str, int, bytes]], answers: dict[str, list[int | None]]) -> dict[str, dict]:
    """Per model: accuracy overall and per subset, the confusion matrix (rows: true digit; column 10: refused)."""
    report = {}
    for name, predicted in answers.items():
        per_subset: dict[str, list[bool]] = defaultdict(list)
        matrix = np.zeros((10, 11), dtype=int)
        for (subset, label, _), guess in zip(items, predicted, strict=True):
            per_subset[subset].append(guess == label)
            matrix[label, 10 if guess is None else guess] += 1
        right = [ok for oks in per_subset.values() for ok in oks]
        report[name] = {
            "accuracy": round(float(np.mean(right)), 4),
            "images": len(right),
            "subsets": {s: round(float(np.mean(oks)), 4) for s, oks in per_subset.items()},
            "confusion": matrix.tolist(),
        }
    return report


def render(report: dict[str, dict]) -> str:
    subsets = [s for s in SUBSETS if s in next(iter(report.values()))["subsets"]]
    lines = ["| model | overall | " + " | ".join(subsets) + " |", "|---" * (len(subsets) + 2) + "|"]
    for name, found in report.items():
        lines.append(
            f"| {name} | {found['accuracy']:.3f} | " + " | ".join(f"{found['subsets'][s]:.3f}" for s in subsets) + " |"
        )
    for name, found in report.items():
        lines += [
            "",
            f"{name}: true digit (rows) against answer (columns; '-' = no ink found)",
            "    " + " ".join(f"{c:>4}" for c in [*range(10), "-"]),
        ]
        lines += [f"{row:>3} " + " ".join(f"{v:>4}" for v in counts) for row, counts in enumerate(found["confusion"])]
    return "\n".join(lines)


def contact_sheet(items, answers, path: Path) -> int:
    """A grid of the images some model got wrong, each captioned with the truth and both answers."""
    from PIL import Image, ImageDraw

    wrong = [(i, item) for i, item in enumerate(items) if any(answers[n][i] != item[1] for n in answers)]
    columns, cell = 12, 96
    rows = max(1, -(-len(wrong) // columns))
    sheet = Image.new("RGB", (columns * cell, rows * (cell + 14)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (index, (_, label, data)) in enumerate(wrong):
        import io

        image = Image.open(io.BytesIO(data)).convert("RGBA")
        flat = Image.new("RGBA", image.size, "white")
        flat.alpha_composite(image)
        flat.thumbnail((cell - 4, cell - 4))
        x, y = (position % columns) * cell, (position // columns) * (cell + 14)
        sheet.paste(flat.convert("RGB"), (x + 2, y + 2))
        said = "/".join("-" if answers[n][index] is None else str(answers[n][index]) for n in CLASSIFIERS)
        draw.text((x + 2, y + cell), f"{label}: {said}", fill="red")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return len(wrong)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="eval/real-world")
    parser.add_argument("--model-dir", default="models")
    parser.add_argument("--sample", type=int, help="the first N images of each subset (every digit)")
    parser.add_argument("--url", help="evaluate a running server over HTTP instead of in process")
    parser.add_argument("--write-cards", action="store_true", help="record the figures in each model.json")
    parser.add_argument("--contact-sheet", help="write the misclassified images to this PNG")
    args = parser.parse_args(argv)
    items = load(Path(args.set), per_subset=args.sample)
    if not items:
        print(f"no images under {args.set}", file=sys.stderr)
        return 2
    answers = predict_over_http(items, args.url) if args.url else predict_in_process(items, Path(args.model_dir))
    report = score(items, answers)
    print(render(report))
    if args.contact_sheet:
        print(
            f"\n{contact_sheet(items, answers, Path(args.contact_sheet))} misclassified images in {args.contact_sheet}"
        )
    if args.write_cards:
        for name, found in report.items():
            card_path = _newest(Path(args.model_dir), name) / "model.json"
            card = json.loads(card_path.read_text())
            card.setdefault("metrics", {})["real_world"] = {
                "set": args.set,
                "accuracy": found["accuracy"],
                "images": found["images"],
                "subsets": found["subsets"],
            }
            card_path.write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
