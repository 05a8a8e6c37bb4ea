"""python -m training finetune: the user's digits from real SQLite stores and a labelled folder, the held-out split
by source image, and a real (short) fine-tune of the served CNN that is gated, published and served."""

from __future__ import annotations

import io
import json
import shutil

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
    # The number's three digits share one source: the held-out split never parts them.
    number = [i for i, label in enumerate(found.labels) if label in (2, 0, 5)]
    assert len({found.sources[i] for i in number}) == 1


def test_the_held_out_share_is_chosen_by_source_the_same_on_every_run():
    sources = [f"{i:064x}" for i in range(200) for _ in range(3)]  # three crops of each of 200 images
    mask = finetune.held_out(sources, 0.2)
    assert np.array_equal(mask, finetune.held_out(list(sources), 0.2))
    for start in range(0, len(sources), 3):
        assert len(set(mask[start : start + 3])) == 1
    assert 0.1 < mask.mean() < 0.3


@pytest.mark.slow
def test_a_short_finetune_learns_the_writer_keeps_mnist_and_publishes_what_it_learned_from(
    tmp_path, mnist_dir, monkeypatch
):
    from training.data import load_mnist

    models = tmp_path / "models"
    shutil.copytree(MODELS / "cnn" / str(NEWEST["cnn"]), models / "cnn" / str(NEWEST["cnn"]))
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
    assert (models / "cnn" / str(result["version"]) / "model.keras").is_file()
    # What was published serves: the service's own loader takes it and answers as the card says.
    from service.core.model import load_version

    served = load_version(models / "cnn" / str(result["version"]), ["CPUExecutionProvider"], 1)
    assert served.card["metrics"]["test_accuracy"] == pytest.approx(result["after"]["mnist_test"], abs=1e-6)


def test_nothing_usable_publishes_nothing(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS / "cnn" / str(NEWEST["cnn"]), models / "cnn" / str(NEWEST["cnn"]))
    empty = tmp_path / "feedback"
    empty.mkdir()
    with pytest.raises(finetune.FinetuneError, match="no usable user digit"):
        finetune.finetune(None, models, empty, None)  # type: ignore[arg-type]
    assert sorted(p.name for p in (models / "cnn").iterdir()) == [str(NEWEST["cnn"])]


def test_a_base_version_that_is_not_there_is_refused(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS / "cnn" / str(NEWEST["cnn"]), models / "cnn" / str(NEWEST["cnn"]))
    with pytest.raises(finetune.FinetuneError, match=f"no cnn version 99 in .* \\(it has \\[{NEWEST['cnn']}\\]\\)"):
        finetune.served_cnn(models, 99)
