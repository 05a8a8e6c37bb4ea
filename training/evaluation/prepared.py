"""What the service's preprocessing gives, as one digest per subset: proof that a faster path changed nothing.

    python -m training prepared [--per-subset N] [--out FILE] [--check FILE]

For every rendering of real handwriting (training/datasets/handwriting.py: MNIST's test digits in 17 renderings, from
MNIST_DIR), the committed digit sets (eval/real-world, eval/non-digits) and the committed reading sets
(eval/numbers, eval/amounts, eval/lines), the SHA-256 of every prepared 28x28 array in order (`/predict`'s
`mnist_from_image`; for `/read`, every candidate digit `read_image` cuts), or of the refusal where the
service refuses an image. `--out` writes them as JSON; `--check` compares with a file written before a change
and exits 1 naming each subset that differs. `make test` checks a sample against tests/data/prepared.json
(tests/training/test_prepared.py); the full set (170,000 renderings and every committed image) is this command.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

from service.errors import ServiceError
from service.reading import DIGIT, read_image
from training.datasets import amountset, handwriting, lineset, nondigits, numberset
from training.datasets.items import Item, committed_items, handwriting_items, prepare
from training.datasets.mnist import load_mnist

ROOT = Path(__file__).resolve().parents[2]
READING_SETS = {"numbers": numberset, "amounts": amountset, "lines": lineset}
MAX_PIXELS = 25_000_000


def _digest_arrays(arrays: list[np.ndarray | None]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(b"refused" if array is None else np.ascontiguousarray(array, np.float32).tobytes())
    return digest.hexdigest()


def digit_digests(items: list[Item], prefix: str) -> dict[str, str]:
    """{prefix/subset: digest} of `mnist_from_image` over `items`, in order."""
    by_subset: dict[str, list[np.ndarray | None]] = defaultdict(list)
    for item, prepared in zip(items, prepare(items), strict=True):
        by_subset[f"{prefix}/{item.subset}"].append(prepared)
    return {subset: _digest_arrays(arrays) for subset, arrays in sorted(by_subset.items())}


def read_parts(data: bytes) -> list[np.ndarray | None]:
    """Every candidate digit `read_image` cuts from an image (each glyph's segments, and any alternative's)."""
    try:
        page = read_image(data, MAX_PIXELS)
    except ServiceError:
        return [None]
    characters = [c for line in page.lines for c in line.characters]
    characters += [alt for c in characters if (alt := c.alternative) is not None]
    return [segment.part.digit for c in characters if c.kind == DIGIT for segment in c.segments]


def reading_digests(folder: Path, module, per_subset: int | None) -> dict[str, str]:
    by_subset: dict[str, list[np.ndarray | None]] = defaultdict(list)
    for subset, _text, data in module.load(folder, per_subset=per_subset):
        by_subset[f"{folder.name}/{subset}"] += read_parts(data)
    return {subset: _digest_arrays(arrays) for subset, arrays in sorted(by_subset.items())}


def digests(per_subset: int | None, data_dir: str | None = None) -> dict[str, str]:
    """Every subset's digest: handwriting renderings (the first `per_subset` digits of each), committed sets."""
    mnist = load_mnist(data_dir)
    found = digit_digests(handwriting_items(mnist.x_test, mnist.y_test, per_subset, handwriting.SEED), "handwriting")
    found |= digit_digests(committed_items(ROOT / "eval" / "real-world", per_subset), "real-world")
    non_digits = [Item(kind, -1, partial(bytes, data)) for kind, data in nondigits.load(ROOT / "eval" / "non-digits")]
    found |= digit_digests(non_digits[: None if per_subset is None else 4 * per_subset], "non-digits")
    for name, module in READING_SETS.items():
        found |= reading_digests(ROOT / "eval" / name, module, per_subset)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training prepared", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-subset", type=int, help="the first N digits of each subset (default: all)")
    parser.add_argument("--data-dir", help="the MNIST files (default: MNIST_DIR)")
    parser.add_argument("--out", type=Path, help="write the digests here as JSON")
    parser.add_argument("--check", type=Path, help="compare with digests written before; exit 1 on a difference")
    args = parser.parse_args(argv)
    found = digests(args.per_subset, args.data_dir)
    if args.out:
        args.out.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    if args.check:
        expected = json.loads(args.check.read_text())
        differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        for subset in differ:
            print(f"differs: {subset}", file=sys.stderr)
        print(f"{len(found) - len(differ)} of {len(found)} subsets prepared exactly as before")
        return 1 if differ else 0
    print(json.dumps(found, indent=1, sort_keys=True))
    return 0
