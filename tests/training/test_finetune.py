"""python -m training finetune: the user's digits from real SQLite stores and a labelled folder, the folds by source
image, the gate's statistics (against scipy) and verdicts, and a real (short) fine-tune of the served CNN refused
with the figures it judged. The whole journey through a real server is tests/training/test_finetune_journey.py."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from service.core.feedback import FeedbackStore, correction
from tests.fixtures import MODELS, NEWEST
from tests.training.writer import writer_png
from training.learn import corrections, finetune, gate


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _typed(text: str) -> bytes:
    image = Image.new("L", (80 * len(text) + 80, 140), 255)
    ImageDraw.Draw(image).text((40, 20), text, font=ImageFont.load_default(size=90), fill=0)
    return _png(image)


def _repository(tmp_path) -> Path:
    """A model repository holding the served CNN version alone."""
    models = tmp_path / "models"
    shutil.copytree(MODELS / "cnn" / str(NEWEST["cnn"]), models / "cnn" / str(NEWEST["cnn"]))
    return models


def test_the_users_digits_come_from_every_store_and_the_folder(tmp_path):
    feedback = tmp_path / "feedback"
    for instance, labels in (("pod-a", (1, 7)), ("pod-b", (4,))):
        store = FeedbackStore(feedback, instance, 1000, 10_000_000)
        for i, label in enumerate(labels):
            store.add(correction(writer_png(label, i), str(label), None, f"req-{label}", "cnn", 4))
    store.add(correction(_typed("205"), None, "205", None, None, None))  # a number: cut into its three digits
    store.add(correction(_typed("205"), None, "2057", None, None, None))  # marks that do not match the text
    folder = tmp_path / "mine"
    (folder / "3").mkdir(parents=True)
    (folder / "3" / "a.png").write_bytes(writer_png(3, 0))
    (folder / "notes").mkdir()
    found = corrections.user_digits(feedback, folder)
    assert sorted(found.labels) == [0, 1, 2, 3, 4, 5, 7]
    assert all(p.shape == (28, 28) and p.dtype == np.float32 for p in found.pixels)
    assert found.counts == {"feedback digits": 3, "feedback numbers": 2, "folder images": 1}
    assert found.skipped == {"a number whose marks do not match its text": 1, "a folder that is no digit (notes)": 1}
    # Every correction used is traced to its store, id, time and the version it corrected (the card keeps this).
    traced = corrections.corrections_traced(found.corrections)
    assert traced["count"] == 4
    assert traced["stores"] == {
        "pod-a": {"file": "feedback-pod-a.sqlite", "ids": [1, 2]},
        "pod-b": {"file": "feedback-pod-b.sqlite", "ids": [1, 2]},
    }
    assert traced["versions_corrected"] == {"cnn v4": 3, "not said": 1}
    assert traced["created"][0] <= traced["created"][1]
    # The number's three digits share one source: the folds never part them.
    number = [i for i, label in enumerate(found.labels) if label in (2, 0, 5)]
    assert len({found.sources[i] for i in number}) == 1


def test_nothing_usable_publishes_nothing(tmp_path):
    models = _repository(tmp_path)
    empty = tmp_path / "feedback"
    empty.mkdir()
    with pytest.raises(finetune.FinetuneError, match="no usable user digit"):
        finetune.finetune(None, models, empty, None)  # type: ignore[arg-type]
    assert sorted(p.name for p in (models / "cnn").iterdir()) == [str(NEWEST["cnn"])]


def test_a_base_version_that_is_not_there_is_refused(tmp_path):
    models = _repository(tmp_path)
    with pytest.raises(finetune.FinetuneError, match=f"no cnn version 99 in .* \\(it has \\[{NEWEST['cnn']}\\]\\)"):
        finetune.served_cnn(models, 99)


def test_the_folds_keep_a_sources_digits_together_and_are_stable():
    sources = [f"image-{i // 3}" for i in range(300)]
    fold = corrections.fold_of(sources, 3)
    assert np.array_equal(fold, corrections.fold_of(list(sources), 3))
    assert all(len(set(fold[i : i + 3])) == 1 for i in range(0, 300, 3))
    assert sorted(set(fold.tolist())) == [0, 1, 2] and min(np.bincount(fold)) > 60


@pytest.mark.parametrize(("fixed", "broken"), [(0, 0), (5, 0), (4, 1), (12, 3), (3, 3), (1, 9), (40, 22)])
def test_the_paired_test_is_the_exact_one_sided_sign_test(fixed, broken):
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = 1.0 if fixed + broken == 0 else scipy_stats.binomtest(fixed, fixed + broken, 0.5, "greater").pvalue
    assert gate.paired_test(fixed, broken) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("right", "total"), [(54, 54), (50, 54), (1565, 1597), (0, 10), (11, 11)])
def test_the_interval_is_wilsons_the_score_tests_inversion(right, total):
    z = 1.96
    low, high = gate.wilson(right, total)
    share = right / total
    assert 0 <= low <= share <= high <= 1
    for bound in (low, high):  # each end is where the score test is exactly at z
        if 0 < bound < 1:
            assert abs(share - bound) == pytest.approx(z * (bound * (1 - bound) / total) ** 0.5, rel=1e-9)
    if right == total:
        assert high == pytest.approx(1.0) and low == pytest.approx(total / (total + z * z))


def _probabilities(labels: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """(N, 10) probabilities: `sure` on each right digit, the rest on the next digit (read right iff sure > 0.5)."""
    rows = np.zeros((len(labels), 10))
    rows[np.arange(len(labels)), labels] = sure
    rows[np.arange(len(labels)), (labels + 1) % 10] += 1 - sure
    return rows


def test_surer_on_most_digits_publishes_and_says_what_was_judged():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    served = rng.uniform(0.6, 0.99, 200)
    served[:5] = 0.4  # misread by the served version ...
    crossed = np.where(np.arange(200) < 150, np.minimum(served + 0.05, 0.999), served)
    crossed[:5] = 0.8  # ... and fixed
    crossed[150:160] -= 0.01  # less sure on 10, and on 40 the same
    verdict = gate.judge(labels, _probabilities(labels, served), _probabilities(labels, crossed), 4, 3)
    assert verdict.shown and verdict.advice == ""
    figures = verdict.figures
    assert (figures["judged_digits"], figures["rose"], figures["fell"]) == (200, 150, 10)
    assert figures["p_value"] == pytest.approx(gate.paired_test(150, 10))
    assert (figures["fixed"], figures["broken"], figures["served_right"], figures["finetuned_right"]) == (
        5,
        0,
        195,
        200,
    )
    assert verdict.said.startswith("judged 200 user digits, each by a model fine-tuned without it (3 folds)")
    assert (
        "read right: served 0.9750 [0.943, 0.989], fine-tuned 1.0000 [0.981, 1.000]; fixed 5, broke 0" in verdict.said
    )


def test_less_sure_of_wrong_labels_is_no_gain_and_is_refused():
    """Shuffled labels: the served version gives them next to nothing (and reads the few that happen to be right),
    a fine-tune on them more, but too little to read them; it comes to read a few, and loses those it read."""
    labels = np.arange(200) % 10
    served, crossed = np.full(200, 1e-6), np.full(200, 0.45)
    served[:20], crossed[:20] = 0.9, 0.3  # the labels that happen to be right: read, then no longer
    crossed[20:25] = 0.6  # a few wrong labels learned
    verdict = gate.judge(labels, _probabilities(labels, served), _probabilities(labels, crossed), 4, 3)
    assert (verdict.figures["rose"], verdict.figures["fell"]) == (5, 20)
    assert not verdict.shown and verdict.figures["p_value"] > 0.99


@pytest.mark.parametrize(("broken", "shown"), [(1, True), (2, True), (3, False)])
def test_what_it_may_break_is_bounded_whatever_else_it_gains(broken, shown):
    labels = np.arange(200) % 10
    served, crossed = np.full(200, 0.9), np.full(200, 0.99)  # surer on every digit ...
    served[-1], crossed[-1] = 0.4, 0.9  # ... fixes one ...
    crossed[:broken] = 0.4  # ... and breaks some: 0.005 of 200 lets it break one more than it fixes
    verdict = gate.judge(labels, _probabilities(labels, served), _probabilities(labels, crossed), 4, 3)
    assert verdict.figures["p_value"] < 1e-9 and verdict.figures["may_break_more"] == 1
    assert (verdict.figures["fixed"], verdict.figures["broken"]) == (1, broken)
    assert verdict.shown is shown
    if not shown:
        assert verdict.advice.startswith("Surer as it is, the fine-tune breaks more")
        assert "check that the corrections' labels are right" in verdict.advice


def test_a_tie_advises_more_corrections_of_the_digits_misread():
    labels = np.array([3, 3, 5, 7])
    sure = np.array([0.9, 0.2, 0.9, 0.9])
    verdict = gate.judge(labels, _probabilities(labels, sure), _probabilities(labels, sure), 4, 3)
    assert not verdict.shown and verdict.figures["rose"] == verdict.figures["fell"] == 0
    assert verdict.advice.startswith("More corrections would decide it") and "3 (1 misread)" in verdict.advice


def test_what_fell_is_named_with_its_figures():
    assert gate.fallen(0.995, 0.994, {"as-is": [0.99, 0.985], "bold": [0.98, 0.98]}) == ""
    said = gate.fallen(0.995, 0.992, {"as-is": [0.99, 0.984], "bold": [0.98, 0.99]})
    assert said == (
        "MNIST test falls by more than 0.002 (0.9950 -> 0.9920); real handwriting falls by more than 0.005 in "
        "as-is 0.990 -> 0.984"
    )


@pytest.mark.slow
def test_four_corrections_can_never_show_a_gain_and_the_refusal_says_what_was_judged(tmp_path, mnist_dir):
    """Surer on all four would be p = 1/16: the test cannot reach 95 % on four digits, so this refuses, always."""
    from training.datasets.mnist import load_mnist

    models = _repository(tmp_path)
    folder = tmp_path / "few"
    data = load_mnist(str(mnist_dir))
    for index in range(4):
        label = int(data.y_test[index])
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(255 - data.x_test[index]).resize((84, 84))
        (folder / str(label) / f"{index}.png").write_bytes(_png(image))
    with pytest.raises(finetune.FinetuneError) as refused:
        finetune.finetune(data, models, None, folder, epochs=1, mix_count=2000)
    message = str(refused.value)
    assert re.match(r"judged 4 user digits, each by a model fine-tuned without it \([23] folds\)", message)
    assert "read right: served 1.0000 [0.510, 1.000]" in message and "nothing published" in message
    assert "More corrections would decide it" in message
    assert sorted(p.name for p in (models / "cnn").iterdir()) == [str(NEWEST["cnn"])]
