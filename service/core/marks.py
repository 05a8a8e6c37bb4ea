"""The first reader of `/read`: a page's marks, cut and classified one by one, decoded into each line's characters.

The page (service/reading: detect) holds each line's characters: digit candidates (a glyph, or the ways touching
digits in it may be cut) and separators that geometry found. `candidate_digits` lists every candidate digit once,
for one batch through the classifier and the digit check (service/core/classify.py); `decode` then reads each glyph
as the path through its cuts the models believe most (`_path`), turns a slash that makes no date into the digit it
looks like, and writes a mark that is plainly no digit as "?".
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from service.core.classify import Checks
from service.reading import DIGIT, Character, Page, Part

UNKNOWN = "?"
# Reading touching digits (`_path`): how far a digit's width may stray from its line's (a share of the line's
# height) before the models must believe it more, and what each digit of a path is worth (more digits, more cuts).
WIDTH_SPREAD = 0.6
PER_DIGIT = -1.5
# A mark the digit check scores under this share of its threshold is plainly no digit: "?" in the text.
FOREIGN = 0.25
# A glyph read as several touching digits is trusted only when every digit cut from it is confident: the
# classifier's top probability at least CUT_CONFIDENCE and the digit check at least CUT_CHECK times its threshold.
# Cut up, a `%`, an `m` or an `x` reads as digits that the check alone would pass ("96", "172", "28"); on the
# development set (training/datasets/readingdev, seed 1) this doubts 56 % of such cuts and keeps 96 % of the right ones.
# It must be wide enough too: at least CUT_WIDTH digits' widths of its line for each digit cut from it (on that
# set the right cuts are 1.8 digits wide or more for two digits, nine in ten of them; a cut-up `%` 1.2-1.7).
CUT_CONFIDENCE = 0.8
CUT_CHECK = 3.0
CUT_WIDTH = 0.75


# A slash stands in a date or a simple fraction: d/m, m/d, d/m/yy, d/m/yyyy, yyyy/m/d. Elsewhere ("751/12") the
# leaning stroke is read as the digit it looks like too, as a leaning 1 often does.
SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})(?:/(?:[0-9]{2}|[0-9]{4}))?|[0-9]{4}/([0-9]{1,2})/([0-9]{1,2})")


def slashed_date(text: str) -> bool:
    """Whether a line's text is a date or a fraction with slashes: "12/31/2026", "2/7/62", "3/4", "2026/12/02"."""
    found = SLASHED.fullmatch(text)
    if found is None:
        return False
    if found.group(3) is not None:
        return 1 <= int(found.group(3)) <= 12 and 1 <= int(found.group(4)) <= 31
    a, b = int(found.group(1)), int(found.group(2))
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _slashes_read(
    characters: list[Character], chosen: dict[int, list[tuple[Part, int]]], probabilities: np.ndarray, labels: list
) -> list[Character]:
    """A line's characters; where its slashes make no date (`slashed_date`), each slash read as its digit."""
    if not any(c.alternative is not None for c in characters):
        return characters
    text = "".join(
        c.kind
        if c.kind != DIGIT
        else "".join(str(labels[int(probabilities[row].argmax())]) for _, row in chosen[id(c)])
        for c in characters
    )
    if slashed_date(text):
        return characters
    return [c.alternative if c.alternative is not None else c for c in characters]


def _path(candidate: Character, scores: list[float]) -> list[int]:
    """The candidate digits (indices into `candidate.segments`) that read the glyph best: the path from its first
    cut point to its last whose digits the models believe most, each digit's belief its log score (the classifier's
    top probability times the digit check's) plus how usual its width is for its line, and PER_DIGIT for each."""
    best: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for node in range(1, candidate.last + 1):
        for index, segment in enumerate(candidate.segments):
            if segment.end != node or segment.start not in best:
                continue
            usual = -0.5 * ((segment.width - candidate.digit_width) / WIDTH_SPREAD) ** 2
            total = best[segment.start][0] + math.log(max(scores[index], 1e-6)) + usual + PER_DIGIT
            if node not in best or total > best[node][0]:
                best[node] = (total, [*best[segment.start][1], index])
    if candidate.last in best:
        return best[candidate.last][1]
    return [next(i for i, s in enumerate(candidate.segments) if (s.start, s.end) == (0, candidate.last))]


def candidate_digits(page: Page) -> tuple[list[Character], np.ndarray]:
    """Every candidate digit of the page (each glyph's, and each slash's reading as a digit) and, stacked in the same
    order, every cut of them as a 28x28 digit (N x 28 x 28 in [0, 1]): what the classifier and the check run on."""
    candidates = [c for line in page.lines for c in line.characters if c.kind == DIGIT]
    candidates += [alt for line in page.lines for c in line.characters if (alt := c.alternative) is not None]
    parts = [segment.part.digit for c in candidates for segment in c.segments]
    return candidates, (np.stack(parts) if parts else np.zeros((0, 28, 28), np.float32))


def decode(
    page: Page, candidates: list[Character], probabilities: np.ndarray, checks: Checks | None, labels: list[str]
) -> list[list[dict[str, Any]]]:
    """Each line's characters, {label, kind, confidence, box[, is_digit, guess]}, boxes in the page's pixels.

    `probabilities` and `checks` are the classifier's and the check's, row for row over `candidate_digits`. A digit
    that is plainly none (the check all but rules it out, or a glyph too small for its line) is an unknown
    character, "?" in the text; one only doubted keeps its digit, with is_digit false.
    """
    scores = probabilities.max(axis=1) * (checks.scores if checks is not None else 1.0)
    threshold = checks.threshold if checks is not None else 0.0
    at = 0
    chosen: dict[int, list[tuple[Part, int]]] = {}  # id(candidate) -> its digits with their rows in the batch
    for candidate in candidates:
        rows = list(range(at, at + len(candidate.segments)))
        at += len(candidate.segments)
        path = _path(candidate, [float(scores[r]) for r in rows])
        chosen[id(candidate)] = [(candidate.segments[i].part, rows[i]) for i in path]
    lines: list[list[dict[str, Any]]] = []
    for line in page.lines:
        found: list[dict[str, Any]] = []
        for character in _slashes_read(line.characters, chosen, probabilities, labels):
            if character.kind != DIGIT:
                found.append({"label": character.kind, "kind": "separator", "confidence": 1.0, "box": character.box})
                continue
            picked = chosen[id(character)]
            # Several digits from one glyph: each must be sure of itself, or all are doubted (is_digit false).
            sure = len(picked) == 1 or (
                character.digits_wide >= CUT_WIDTH * len(picked)
                and all(
                    probabilities[row].max() >= CUT_CONFIDENCE
                    and (checks is None or checks.scores[row] >= CUT_CHECK * threshold)
                    for _, row in picked
                )
            )
            for part, row in picked:
                winner = int(probabilities[row].argmax())
                entry: dict[str, Any] = {
                    "label": labels[winner],
                    "kind": "digit",
                    "confidence": round(float(probabilities[row, winner]), 6),
                    "box": part.box,
                }
                if checks is not None:
                    score = float(checks.scores[row])
                    entry["is_digit"] = score >= threshold and not character.undersized and sure
                    # Doubted, the digit stays the best guess (is_number false says not to trust it); plainly no
                    # digit (a mark too small for its line, a letter or sign the check all but rules out), a "?".
                    if character.undersized or score < FOREIGN * threshold:
                        entry.update(kind="unknown", label=UNKNOWN, guess=int(labels[winner]))
                found.append(entry)
        lines.append(found)
    return lines
