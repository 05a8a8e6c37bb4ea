"""The third reader of `/read`: the character model (`charmodel`, training/learn/charmodel.py) names each character the
first reader wrote, seen across its line (service/reading/charcrop.py).

The first reader (service/core/marks.py) names a mark by what the digit classifier makes of its 28x28 fit, and a
separator by geometry alone; the character model sees the mark's size and place in its line, and knows a fifth
kind of mark, "?" (a letter, `$ % € # +`, a speck), which the classifier has no class for. service/core/assemble.py
says `is_number: true` only where it names every character as the first reader did. Without the model in the
repository (or with CHAR_MODEL=off) `/read` leaves it out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.core.linereader import LineReading
from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, optional_model
from service.core.runner import ModelRunner
from service.reading import Page
from service.reading.charcrop import CHAR_SIZE, char_image

# The character model contradicts a character only when it gives the first reader's label less than this: on the
# development set (training/datasets/readingdev, seed 1) a veto at 0.3 leaves as few sure and wrong answers (12 of
# 1,500) as a veto wherever its best label differs (0.5 and up), and keeps 0.592 of the numbers sure instead of 0.577.
CONTRADICTS = 0.3


def char_model(registry: ModelRegistry, name: str) -> ModelVersion | None:
    """The served version of the character model, or None when it is off, not in the repository, or no such model."""
    return optional_model(registry, name, "character-reading")


def name_characters(
    runner: ModelRunner, model: ModelVersion, page: Page, found: list[list[dict[str, Any]]]
) -> list[LineReading]:
    """Each line's characters (`found`, boxes in the page's pixels) as the character model names them, in one batch:
    per line, the text it reads and how sure it is (the product of each character's probability). A character keeps
    the first reader's label unless the model gives that label under CONTRADICTS; then it is the model's best."""
    if page.ink is None:
        return [LineReading("", 0.0) for _ in found]
    crops = [char_image(page.ink, line.box, entry["box"]) for line, entries in zip(page.lines, found, strict=True)
             for entry in entries]  # fmt: skip
    if not crops:
        return [LineReading("", 1.0) for _ in found]
    batch = np.stack(crops).reshape((len(crops), CHAR_SIZE, CHAR_SIZE, 1)).astype(np.float32)
    probabilities = runner.infer_one(model, batch)
    labels = model.labels
    readings, at = [], 0
    for entries in found:
        text, sure = [], 1.0
        for entry, row in zip(entries, probabilities[at : at + len(entries)], strict=True):
            written = labels.index(entry["label"]) if entry["label"] in labels else -1
            named = written if written >= 0 and row[written] >= CONTRADICTS else int(row.argmax())
            text.append(labels[named])
            sure *= float(row[named])
        at += len(entries)
        readings.append(LineReading("".join(text), round(sure, 6)))
    return readings
