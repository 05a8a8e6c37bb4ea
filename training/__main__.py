"""python -m training COMMAND: the training side's one program.

  python -m training {mlp,cnn,linear,isdigit,linereader,charmodel,all} [options]
      retrain, export, check and publish versions into the model repository (make retrain)
  python -m training finetune cnn --from-feedback DIR
      fine-tune the served CNN on its users' corrections, gate it, publish the next version (make finetune)
  python -m training evaluate [options]
      the served models on every yardstick (make evaluate)
  python -m training prepared [options]
      one digest per subset of what the service's preprocessing gives: proof that a faster path changed nothing
  python -m training dataset {real-world,non-digits,numbers,amounts,lines,reading-dev,new-writer} [options]
      write an evaluation or development set

`python -m training COMMAND --help` says more about each.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

from training.datasets import amountset, evalset, lineset, newwriter, nondigits, numberset, readingdev
from training.datasets.mnist import DatasetError, load_mnist
from training.evaluation import evaluate, prepared
from training.learn import finetune, gate, linereader
from training.release.export import ExportMismatch
from training.release.publish import GateRefused
from training.retrain import (
    RunOptions,
    request_reload,
    run_char_model,
    run_classifier,
    run_digit_check,
    run_line_reader,
    run_linear,
    summary_table,
)

MODELS = ("mlp", "cnn", "linear", "isdigit")  # what `all` retrains
DATASETS: dict[str, Callable[[list[str]], int]] = {
    "real-world": evalset.main,  # eval/real-world: typed, framed, drawn, photographed and faint digits
    "non-digits": nondigits.main,  # eval/non-digits: letters, symbols, drawings, shapes, textures
    "numbers": numberset.main,  # eval/numbers: whole numbers of MNIST test digits, fonts, paper, canvas, scans
    "amounts": amountset.main,  # eval/amounts: amounts, dates and times; numbers with a foreign mark
    "lines": lineset.main,  # eval/lines: two or three lines
    "reading-dev": readingdev.main,  # /read's development set, from another generator (never committed)
    "new-writer": newwriter.main,  # a writer's digits as labelled PNGs, for trying the fine-tune
}
# By name only: /read's two learned readers train for long on these 2 cores (the line reader 90 minutes, the
# character model 24: their cards), so `all` leaves them out.
SEPARATE = ("linereader", "charmodel")


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (a one-line error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return 0 if text.strip() == "0" else positive_int(text)


def fraction(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {value:g}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value:g}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "model", choices=(*MODELS, *SEPARATE, "all"), help="which model to retrain (or a COMMAND above)"
    )
    parser.add_argument("--epochs", type=positive_int, help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive_int, help="batch size (default: the model's recipe)")
    parser.add_argument(
        "--data-dir",
        help="directory of the MNIST IDX .gz files (default: $MNIST_DIR, then Keras' cache, then Keras' download)",
    )
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("MODEL_DIR", "models"),
        help="model repository to publish into (default: $MODEL_DIR or ./models)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--limit", type=positive_int, help="train on the first N training images only")
    parser.add_argument(
        "--min-accuracy",
        type=fraction,
        help="mlp, cnn: the lowest MNIST test accuracy that may be published (default: mlp 0.989, cnn 0.993); "
        "isdigit: the lowest share of calibration non-digits rejected (default 0.9)",
    )
    parser.add_argument(
        "--max-distance",
        type=positive_float,
        help="linear: the largest relative distance of w and b to "
        "the least-squares fit that may be published "
        "(default 1e-3)",
    )
    parser.add_argument(
        "--reload-url",
        help="service base URL to ask to load the new versions, e.g. "
        "http://127.0.0.1:8000 (bearer token from $ADMIN_TOKEN)",
    )
    parser.add_argument(
        "--minutes",
        type=positive_float,
        default=linereader.MINUTES,
        help=f"linereader: minutes to train, resuming its checkpoint (default {linereader.MINUTES:g})",
    )
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        default=linereader.LEARNING_RATE,
        help=f"linereader: Adam's learning rate for this run (default {linereader.LEARNING_RATE:g})",
    )
    parser.add_argument("--no-keras", action="store_true", help="do not save model.keras beside the ONNX")
    args = parser.parse_args(argv)
    if args.model == "linear" and args.min_accuracy is not None:
        parser.error("--min-accuracy applies to mlp and cnn; the linear model's gate is --max-distance")
    if args.model in ("mlp", "cnn", "isdigit") and args.max_distance is not None:
        parser.error("--max-distance applies to linear; the classifiers' gate is --min-accuracy")
    return args


FINETUNE_USAGE = """Fine-tune the served CNN on its users' corrections, gate it, publish the next version.

Every correction counts as evidence: each is judged by a model fine-tuned without it (--folds), and the version
is published only when that model is surer of the right digit than the served version (where it gives it more
than half its probability) on more of them, at 95 % confidence (an exact sign test), reads them right no worse than
0.005 below it, and the version trained on all of them falls by at most 0.002 on MNIST's test digits and by at
most 0.005 on each of the 17 renderings of real handwriting that make evaluate reads (the first --rendering-digits
of each).

The user's digits come from the corrections stores (--from-feedback, the service's FEEDBACK_DIR) and/or a folder
of labelled images (--images DIR/<digit>/*.png); MNIST's training digits are mixed in and its test digits judge
what is kept (--mnist-dir, or MNIST_DIR). Training starts from the version the service serves (asked of --reload-url),
or --base, or the newest in --model-dir. With --reload-url the new version is loaded when it passes the gate.

  make finetune                                         # FEEDBACK_DIR, MNIST_DIR, MODEL_DIR from the environment
  python -m training finetune cnn --from-feedback /var/lib/digit-serve/feedback --mnist-dir data/mnist \\
      --reload-url http://127.0.0.1:8000

What it does, step by step: training/learn/finetune.py and docs/training.md.
"""


def served_version(url: str, name: str) -> int:
    """The version of `name` that the service at `url` serves (GET /models/<name>)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/models/{name}", timeout=10) as answer:
            return int(json.loads(answer.read())["served_version"])
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"could not ask {url} which {name} version it serves: {exc}") from None


def parse_finetune_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training finetune", description=FINETUNE_USAGE,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("model", choices=("cnn",), help="the model to fine-tune: cnn (the one /read uses)")
    parser.add_argument(
        "--from-feedback", type=Path, metavar="FEEDBACK_DIR",
        default=Path(os.environ["FEEDBACK_DIR"]) if os.environ.get("FEEDBACK_DIR") else None,
        help="the corrections: every feedback-*.sqlite in this folder (default: $FEEDBACK_DIR, if set)",
    )  # fmt: skip
    parser.add_argument(
        "--images", "--data", dest="data", type=Path, metavar="DIR",
        help="the user's labelled images, DIR/<digit>/*.png (default: none)",
    )  # fmt: skip
    parser.add_argument(
        "--mnist-dir", "--data-dir", dest="data_dir", metavar="DIR", default=os.environ.get("MNIST_DIR"),
        help="MNIST's IDX .gz files, mixed in and judged on (default: $MNIST_DIR; never downloaded)",
    )  # fmt: skip
    parser.add_argument(
        "--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR", "models")),
        help="the model repository, read and published into (default: $MODEL_DIR or models; now %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--base", type=positive_int, metavar="VERSION",
        help="the cnn version to start from (default: the one --reload-url serves, else the newest in --model-dir)",
    )  # fmt: skip
    parser.add_argument("--epochs", type=positive_int, default=finetune.EPOCHS,
                        help="passes over the mixed digits (default: %(default)s)")  # fmt: skip
    parser.add_argument("--mix", type=positive_int, default=finetune.MNIST_MIX, metavar="N",
                        help="MNIST training digits mixed in, half degraded (default: %(default)s)")  # fmt: skip
    parser.add_argument("--rendering-digits", type=positive_int, default=gate.RENDERING_DIGITS, metavar="N",
                        help="MNIST test digits judged per rendering (default: %(default)s)")  # fmt: skip
    parser.add_argument("--folds", type=positive_int, default=finetune.FOLDS,
                        help="cross-fitting folds: each correction judged by a model fine-tuned on the others; at "
                        "least 2 (default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the random seed (default: %(default)s)")
    parser.add_argument("--reload-url", help="the service to start from and load the new version into, e.g. "
                        "http://127.0.0.1:8000 (bearer token: $ADMIN_TOKEN; default: none)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.from_feedback is None and args.data is None:
        parser.error("give --from-feedback FEEDBACK_DIR (or set FEEDBACK_DIR), --images DIR, or both")
    for folder in (args.from_feedback, args.data):
        if folder is not None and not folder.is_dir():
            parser.error(f"{folder} is not a directory")
    if args.folds < 2:
        parser.error("--folds: must be at least 2 (each fold is judged by a model fine-tuned on the others)")
    if not args.data_dir:
        parser.error("MNIST is needed to mix in and to judge on: set MNIST_DIR or pass --mnist-dir DIR "
                     "(a directory of MNIST's IDX .gz files); fine-tuning never downloads it")  # fmt: skip
    return args


def main_finetune(argv: list[str]) -> int:
    args = parse_finetune_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    base = args.base
    try:
        if args.reload_url:
            serving = served_version(args.reload_url, "cnn")
            if base is not None and base != serving:
                print(f"note: starting from cnn v{base}, which {args.reload_url} no longer serves (it serves "
                      f"v{serving})", file=sys.stderr)  # fmt: skip
            base = serving if base is None else base
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    try:
        data = load_mnist(args.data_dir)
        result = finetune.finetune(
            data, args.model_dir, args.from_feedback, args.data, args.epochs, args.seed, args.folds, base,
            args.mix, args.rendering_digits,
        )  # fmt: skip
    except (DatasetError, finetune.FinetuneError, ExportMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"cnn version {result['version']} ({result['path']}), fine-tuned from v{result['base']}: {result['said']}; "
        f"MNIST test {result['before']['mnist_test']:.4f} -> {result['after']['mnist_test']:.4f}"
    )
    if args.reload_url:
        try:
            print(request_reload(args.reload_url, "cnn", os.environ.get("ADMIN_TOKEN")))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
    return 0


def main_dataset(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m training dataset", description="write an evaluation set")
    parser.add_argument("name", choices=DATASETS, help="which set (its --help says more)")
    if not argv or argv[0].startswith("-"):
        parser.parse_args(argv)  # --help, or the error naming the choices
    name, rest = argv[0], argv[1:]
    if name not in DATASETS:
        parser.parse_args(argv[:1])
    return DATASETS[name](rest) or 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "finetune": main_finetune,
    "evaluate": evaluate.main,
    "prepared": prepared.main,
    "dataset": main_dataset,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = MODELS if args.model == "all" else (args.model,)
    options = RunOptions(
        Path(args.model_dir),
        args.epochs,
        args.batch_size,
        args.seed,
        args.limit,
        args.min_accuracy,
        args.max_distance,
        not args.no_keras,
    )
    outcomes = []
    try:
        data = load_mnist(args.data_dir) if {"mlp", "cnn", "isdigit"} & set(names) else None
        for name in names:
            if name == "linear":
                outcomes.append(run_linear(options))
            elif name == "linereader":
                outcomes.append(run_line_reader(args.data_dir, options, args.minutes, args.learning_rate))
            elif name == "charmodel":
                outcomes.append(run_char_model(args.data_dir, options))
            elif name == "isdigit":
                assert data is not None
                outcomes.append(run_digit_check(data, options))
            else:
                assert data is not None  # loaded above for any classifier
                outcomes.append(run_classifier(name, data, options))
    except (DatasetError, GateRefused, ExportMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if outcomes:
            print("\n" + summary_table(outcomes))
    if args.reload_url:
        token = os.environ.get("ADMIN_TOKEN")
        for outcome in outcomes:
            try:
                print(request_reload(args.reload_url, outcome.name, token))
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
