"""python -m training finetune: the user's digits from real SQLite stores and a labelled folder, the folds by source
image, the gate's statistics (against scipy), and real (short) fine-tunes of the served CNN: one gated, published
and served, one refused with the figures it judged."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from service.core.feedback import FeedbackStore, correction
from tests.conftest import MODELS, NEWEST
from training import finetune, newwriter


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


def _writer(label: int, index: int, seed: int = 7) -> bytes:
    return _png(newwriter.render(label, np.random.default_rng([seed, label, index])))


def test_the_users_digits_come_from_every_store_and_the_folder(tmp_path):
    feedback = tmp_path / "feedback"
    for instance, labels in (("pod-a", (1, 7)), ("pod-b", (4,))):
        store = FeedbackStore(feedback, instance, 1000, 10_000_000)
        for i, label in enumerate(labels):
            store.add(correction(_writer(label, i), str(label), None, None, None, None))
    store.add(correction(_typed("205"), None, "205", None, None, None))  # a number: cut into its three digits
    store.add(correction(_typed("205"), None, "2057", None, None, None))  # marks that do not match the text
    folder = tmp_path / "mine"
    (folder / "3").mkdir(parents=True)
    (folder / "3" / "a.png").write_bytes(_writer(3, 0))
    (folder / "notes").mkdir()
    found = finetune.user_digits(feedback, folder)
    assert sorted(found.labels) == [0, 1, 2, 3, 4, 5, 7]
    assert all(p.shape == (28, 28) and p.dtype == np.float32 for p in found.pixels)
    assert found.counts == {"feedback digits": 3, "feedback numbers": 2, "folder images": 1}
    assert found.skipped == {"a number whose marks do not match its text": 1, "a folder that is no digit (notes)": 1}
    # The number's three digits share one source: the folds never part them.
    number = [i for i, label in enumerate(found.labels) if label in (2, 0, 5)]
    assert len({found.sources[i] for i in number}) == 1


@pytest.mark.slow
def test_a_short_finetune_learns_the_writer_keeps_mnist_and_publishes_what_it_learned_from(
    tmp_path, mnist_dir, monkeypatch
):
    from training.data import load_mnist

    models = _repository(tmp_path)
    folder = tmp_path / "writer"
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
        for index in range(8):
            (folder / str(label) / f"{index}.png").write_bytes(_writer(label, index))
    monkeypatch.setattr(finetune, "MNIST_MIX", 4000)  # a short run: a few thousand MNIST digits, two epochs
    result = finetune.finetune(load_mnist(str(mnist_dir)), models, None, folder, epochs=2)
    assert result["version"] == NEWEST["cnn"] + 1
    assert result["after"]["user_held_out"] > result["before"]["user_held_out"]
    assert result["after"]["mnist_test"] >= result["before"]["mnist_test"] - finetune.MAX_MNIST_DROP
    card = json.loads((models / "cnn" / str(result["version"]) / "model.json").read_text())
    user = card["data"]["user"]
    assert user["digits"] == 80 and user["source_images"] == 80 and len(user["source_sha256"]) == 80
    assert card["training"]["finetuned_from"] == NEWEST["cnn"]
    gate = card["metrics"]["finetune"]["gate"]
    assert gate["judged_digits"] == 80 and gate["fixed"] > gate["broken"] and gate["p_value"] <= 0.05
    assert result["said"].startswith("judged 80 user digits")
    assert (models / "cnn" / str(result["version"]) / "model.keras").is_file()
    # What was published serves: the service's own loader takes it and answers as the card says.
    from service.core.model import load_version

    served = load_version(models / "cnn" / str(result["version"]), ["CPUExecutionProvider"], 1)
    assert served.card["metrics"]["test_accuracy"] == pytest.approx(result["after"]["mnist_test"], abs=1e-6)


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
    fold = finetune.fold_of(sources, 3)
    assert np.array_equal(fold, finetune.fold_of(list(sources), 3))
    assert all(len(set(fold[i : i + 3])) == 1 for i in range(0, 300, 3))
    assert sorted(set(fold.tolist())) == [0, 1, 2] and min(np.bincount(fold)) > 60


@pytest.mark.parametrize(("fixed", "broken"), [(0, 0), (5, 0), (4, 1), (12, 3), (3, 3), (1, 9), (40, 22)])
def test_the_paired_test_is_mcnemars_exact_one_sided_test(fixed, broken):
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = 1.0 if fixed + broken == 0 else scipy_stats.binomtest(fixed, fixed + broken, 0.5, "greater").pvalue
    assert finetune.paired_test(fixed, broken) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("right", "total"), [(54, 54), (50, 54), (1565, 1597), (0, 10), (11, 11)])
def test_the_interval_is_wilsons_the_score_tests_inversion(right, total):
    z = 1.96
    low, high = finetune.wilson(right, total)
    share = right / total
    assert 0 <= low <= share <= high <= 1
    for bound in (low, high):  # each end is where the score test is exactly at z
        if 0 < bound < 1:
            assert abs(share - bound) == pytest.approx(z * (bound * (1 - bound) / total) ** 0.5, rel=1e-9)
    if right == total:
        assert high == pytest.approx(1.0) and low == pytest.approx(total / (total + z * z))


@pytest.mark.slow
def test_corrections_the_served_version_already_reads_are_refused_with_what_was_judged(
    tmp_path, mnist_dir, monkeypatch
):
    from training.data import load_mnist

    models = _repository(tmp_path)
    folder = tmp_path / "clean"
    data = load_mnist(str(mnist_dir))
    for label in range(10):  # MNIST test digits the served CNN reads: nothing to gain
        (folder / str(label)).mkdir(parents=True)
        for index in np.flatnonzero(data.y_test == label)[:3]:
            image = Image.fromarray(255 - data.x_test[index]).resize((84, 84))
            (folder / str(label) / f"{index}.png").write_bytes(_png(image))
    monkeypatch.setattr(finetune, "MNIST_MIX", 2000)
    with pytest.raises(finetune.FinetuneError) as refused:
        finetune.finetune(data, models, None, folder, epochs=1)
    message = str(refused.value)
    assert message.startswith("judged 30 user digits, each by a model fine-tuned without it (3 folds)")
    assert "fixed 0" in message and "nothing published" in message and "More corrections" in message
    assert sorted(p.name for p in (models / "cnn").iterdir()) == [str(NEWEST["cnn"])]
