"""The second reader of `/read`: a CTC line recogniser (`linereader`, training/linereader.py) that reads each line
without cutting it into characters, and the rule that joins it to the first.

The segmenting reader (service/core/digits.py) cuts a line into marks and classifies each; the line reader sees the
whole line at once. They fail in different ways (a comma touching a digit, a `%` cut into digits, a 1 taken for a
slash by geometry), so `/read` says `is_number: true` only when both read every line the same. Where they differ,
`is_number` is false and the line reader's reading is given as an alternative, for a client to show a person.
Without the model in the repository (or with LINE_READER_MODEL=off) `/read` answers from the first reader alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    model = optional_model(registry, name)
    return model if model is not None and model.task == "line-reading" else None


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


def join(body: dict[str, Any], model: ModelVersion, readings: list[LineReading]) -> None:
    """Put the line reader's `readings` beside the first reader's answer `body` (changed in place): `is_number`
    stays true only where both read every line alike; otherwise the line reader's text is an alternative."""
    lines = body["lines"]
    agree = len(readings) == len(lines) and all(r.text == line["text"] for r, line in zip(readings, lines, strict=True))
    body["readers_agree"] = agree
    if agree:
        return
    if "is_number" in body:
        body["is_number"] = False
    body["alternatives"] = [
        {
            "text": "\n".join(r.text for r in readings),
            "confidence": round(float(np.prod([r.confidence for r in readings])), 6),
            "reader": f"{model.name} v{model.version}",
        }
    ]
