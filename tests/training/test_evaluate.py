"""The real-world evaluation set is intact and reproducible, and the evaluation runs on a sample of it."""

import hashlib
from pathlib import Path

import numpy as np

from tests.conftest import MODELS, ROOT
from training import evalset
from training.evaluate import main as evaluate

SET = ROOT / "eval" / "real-world"


def test_the_committed_set_matches_its_manifest_and_has_every_digit_of_every_subset():
    lines = (SET / "MANIFEST.sha256").read_text().splitlines()
    assert len(lines) == 1000
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((SET / name).read_bytes()).hexdigest() == digest, name
    for subset in evalset.SUBSETS:
        labels = [int(path.stem.rsplit("_", 1)[1]) for path in (SET / subset).iterdir()]
        assert sorted(set(labels)) == list(range(10)) and len(labels) == 200


def test_the_drawn_strokes_are_made_again_byte_for_byte_from_the_seed(tmp_path):
    """The strokes subset needs no fonts: regenerate a few and compare with the committed files."""
    rng = np.random.default_rng([0, evalset.SUBSETS.index("strokes")])
    for index in range(12):
        data, extension = evalset.make("strokes", index % 10, rng, [])
        assert data == (SET / "strokes" / f"{index:04d}_{index % 10}.{extension}").read_bytes()


def test_the_evaluation_runs_on_a_sample_and_reports_every_subset(capsys, tmp_path):
    sheet = tmp_path / "wrong.png"
    assert (
        evaluate(["--set", str(SET), "--model-dir", str(MODELS), "--sample", "20", "--contact-sheet", str(sheet)]) == 0
    )
    out = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line
        for line in out.splitlines()
        if line.startswith("| mlp") or line.startswith("| cnn")
    }
    assert set(rows) == {"mlp", "cnn"}
    cnn, mlp = ([float(cell) for cell in rows[name].split("|")[2:-1]] for name in ("cnn", "mlp"))
    assert len(cnn) == 1 + len(evalset.SUBSETS)
    # A guard against regressions, with a margin: on this sample the served versions read 0.97 and 0.96
    # (the preprocessing before the real-world work: CNN 0.87). Faint ink is the hard part (0.85 / 0.80).
    assert cnn[0] >= 0.93 and mlp[0] >= 0.9
    assert min(cnn[1:5]) >= 0.95  # fonts, frames, strokes, paper
    assert "true digit (rows) against answer" in out
    assert Path(sheet).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
