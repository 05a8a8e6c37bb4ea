"""python -m training {mlp,cnn,linear,isdigit,all}: retrain, export, verify and publish the next versions."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from training.data import DatasetError, load_mnist
from training.export import ExportMismatch
from training.pipeline import (
    GateRefused,
    RunOptions,
    request_reload,
    run_classifier,
    run_digit_check,
    run_linear,
    summary_table,
)

MODELS = ("mlp", "cnn", "linear", "isdigit")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("model", choices=(*MODELS, "all"), help="which model to retrain")
    parser.add_argument("--epochs", type=int, help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=int, help="batch size (default: the model's recipe)")
    parser.add_argument(
        "--data-dir",
        help="directory of the MNIST IDX .gz files (default: $MNIST_DIR, then Keras' cache, then Keras' download)",
    )
    parser.add_argument(
        "--model-dir",
        default=os.environ.get("MODEL_DIR", "models"),
        help="model repository to publish into (default: $MODEL_DIR or ./models)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--limit", type=int, help="train on the first N training images only")
    parser.add_argument(
        "--min-accuracy",
        type=float,
        help="mlp, cnn: the lowest MNIST test accuracy that may be published (default: mlp 0.989, cnn 0.993); "
        "isdigit: the lowest share of calibration non-digits rejected (default 0.9)",
    )
    parser.add_argument(
        "--max-distance",
        type=float,
        help="linear: the largest relative distance of w and b to "
        "the least-squares fit that may be published "
        "(default 1e-3)",
    )
    parser.add_argument(
        "--reload-url",
        help="service base URL to ask to load the new versions, e.g. "
        "http://127.0.0.1:8000 (bearer token from $ADMIN_TOKEN)",
    )
    parser.add_argument("--no-keras", action="store_true", help="do not save model.keras beside the ONNX")
    args = parser.parse_args(argv)
    if args.model == "linear" and args.min_accuracy is not None:
        parser.error("--min-accuracy applies to mlp and cnn; the linear model's gate is --max-distance")
    if args.model in ("mlp", "cnn", "isdigit") and args.max_distance is not None:
        parser.error("--max-distance applies to linear; the classifiers' gate is --min-accuracy")
    return args


def main(argv: list[str] | None = None) -> int:
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
