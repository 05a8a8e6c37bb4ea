"""The answer of `/read`, assembled from what its readers read.

The first reader (service/core/marks.py) gives each line's characters with their boxes; the others, where they are
served, read the same lines their own way: the line reader (service/core/linereader.py) each line whole, the
character model (service/core/charmodel.py) each character the first reader wrote, seen in its line. `is_number` is
true only when every line is a number, every digit passed the digit check, and every other reader read every line
alike. Where one differs, `is_number` is false and its reading is an alternative, for a client to show a person:
the readers fail in different ways (a comma touching a digit, a `%` cut into digits, a 1 taken for a slash, a
letter taken for a digit), so what all read is right far more often than what any reads alone (docs/reading.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from service.core.linereader import LineReading
from service.core.model import ModelVersion
from service.reading import Page

# A line is a number when it is digits, with single separators between groups of them and perhaps a leading minus:
# 12.50, -7, 1,000, 2026-12-02, 12/31/2026, 10:45. Anything else (a "?", a separator at an end or doubled) is not.
NUMBER_LINE = re.compile(r"-?[0-9]+([.,/:-][0-9]+)*")


def assemble(
    model: ModelVersion,
    page: Page,
    found: list[list[dict[str, Any]]],
    checked: bool,
    others: Sequence[tuple[ModelVersion, list[LineReading]]] = (),
) -> dict[str, Any]:
    """The JSON body of `/read`: text (lines joined by newlines), each line, each character with its box in pixels
    of the image as sent; is_number where the digit check ran (`checked`); the readers' agreement where other
    readers (`others`: the line reader, the character model) read the lines too, each line's text and sureness."""
    characters: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for number, (line, entries) in enumerate(zip(page.lines, found, strict=True)):
        for entry in entries:
            entry["box"], entry["line"] = list(page.as_sent(entry["box"])), number
        lines.append({"text": "".join(entry["label"] for entry in entries), "box": list(page.as_sent(line.box))})
        characters += entries
    body: dict[str, Any] = {
        "model": model.name,
        "version": model.version,
        "text": "\n".join(line["text"] for line in lines),
        "confidence": round(math.prod(c["confidence"] for c in characters), 6),
        "lines": lines,
        "characters": characters,
        # Deprecated (one release; docs/api.md): the digit characters alone, with integer labels, as before lines.
        "digits": [
            {
                "label": c["guess"] if c["kind"] == "unknown" else int(c["label"]),
                "confidence": c["confidence"],
                **({"is_digit": c["is_digit"]} if "is_digit" in c else {}),
                "box": c["box"],
            }
            for c in characters
            if c["kind"] != "separator"
        ],
    }
    if checked:
        body["is_number"] = all(NUMBER_LINE.fullmatch(line["text"]) for line in lines) and all(
            c.get("is_digit", True) for c in characters
        )
    if others:
        _join(body, others)
    return body


def _join(body: dict[str, Any], others: Sequence[tuple[ModelVersion, list[LineReading]]]) -> None:
    """The other readers' readings beside the first reader's `body`: `is_number` stays true only where every reader
    read every line alike; each reading that differs is an alternative."""
    lines = body["lines"]
    alternatives = []
    for model, readings in others:
        same = len(readings) == len(lines) and all(
            r.text == line["text"] for r, line in zip(readings, lines, strict=True)
        )
        if not same:
            alternatives.append(
                {
                    "text": "\n".join(r.text for r in readings),
                    "confidence": round(float(np.prod([r.confidence for r in readings])), 6),
                    "reader": f"{model.name} v{model.version}",
                }
            )
    body["readers_agree"] = not alternatives
    if not alternatives:
        return
    if "is_number" in body:
        body["is_number"] = False
    body["alternatives"] = alternatives
