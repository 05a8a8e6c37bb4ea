"""Every prepared 28x28 array is what it was when tests/data/prepared.json was written (issue 30's fast paths).

The digests cover the first 20 digits of each of the 17 real-handwriting renderings and of every committed
set, through `/predict`'s preparation and `/read`'s cutting. `python -m training prepared --check FILE`
compares every image (170,000 renderings) with digests written before a change; docs/performance.md
records that run. Regenerate this file only for a change meant to alter what the models see.
"""

from __future__ import annotations

import json
from pathlib import Path

from training.evaluation import prepared

EXPECTED = Path(__file__).resolve().parent.parent / "data" / "prepared.json"


def test_every_prepared_array_is_unchanged(mnist_dir: Path) -> None:
    expected = json.loads(EXPECTED.read_text())
    found = prepared.digests(per_subset=20, data_dir=str(mnist_dir))
    assert sorted(found) == sorted(expected)
    differ = [subset for subset in expected if found[subset] != expected[subset]]
    assert not differ, f"prepared arrays changed in {differ}"
