"""The second reader of `/read`: a CTC line recogniser (`linereader`, training/learn/linereader.py) that reads each line
without cutting it into characters.

The first reader (service/core/marks.py) cuts a line into marks and classifies each; the line reader sees the whole
line at once, so a comma touching a digit or digits that overlap are one picture to it. service/core/assemble.py
joins the two. Without the model in the repository (or with LINE_READER_MODEL=off) `/read` answers from the first
reader alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.core.model import ModelVersion
from service.core.registry import ModelRegistry, optional_model
from service.core.runner import ModelRunner
from service.reading.linecrop import batch_lines, ctc_greedy


@dataclass(frozen=True)
class LineReading:
    """What the line reader read in one line: its text, how sure it is (the product of each character's peak)."""

    text: str
    confidence: float


def line_reader(registry: ModelRegistry, name: str) -> ModelVersion | None:
    """The served version of the line reader, or None when it is off, not in the repository, or no line reader."""
    return optional_model(registry, name, "line-reading")


def read_lines(runner: ModelRunner, model: ModelVersion, images: list[np.ndarray]) -> list[LineReading]:
    """Each line image (service/reading/linecrop.py) read by `model`, in one batch."""
    if not images:
        return []
    outputs = runner.infer_one(model, batch_lines(images))
    readings = []
    for output in outputs:
        text, confidence, _ = ctc_greedy(output)
        readings.append(LineReading(text, round(confidence, 6)))
    return readings
