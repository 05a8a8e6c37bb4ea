"""The line reader's synthetic lines (training/datasets/linesynth.py): shaped and labelled as /read's line crops are."""

from __future__ import annotations

import numpy as np

from service.reading.linecrop import ALPHABET, LINE_HEIGHT, MAX_LINE_WIDTH
from training.datasets.linesynth import bucketed, label_of, synth_line


def test_foreign_marks_are_taught_as_question_marks():
    assert label_of("$12.50") == "?12.50" and label_of("12kg") == "12??" and label_of("-7") == "-7"


def test_a_line_is_line_height_high_in_the_unit_range_with_its_text_filling_the_height(mnist_dir):
    rng = np.random.default_rng(3)
    filled = []
    for _ in range(60):
        line, label = synth_line(rng, str(mnist_dir))
        assert line.shape[0] == LINE_HEIGHT and 4 <= line.shape[1] <= MAX_LINE_WIDTH
        assert line.dtype == np.float32 and line.min() >= 0.0 and line.max() <= 1.0
        assert label and set(label) <= set(ALPHABET)
        rows = np.nonzero(line.max(axis=1) > 0.25)[0]
        filled.append((rows[-1] - rows[0] + 1) / LINE_HEIGHT if len(rows) else 0.0)
    # cropped to the characters' box as /read crops them: specks and underlines far off do not shrink the text
    # (cropped to all the ink, as before, 7 of these 60 lines had their text in under 0.6 of the height)
    assert min(filled) >= 0.55 and np.mean(np.array(filled) < 0.6) <= 0.02


def test_bucketed_batches_hold_lines_of_like_width(mnist_dir):
    batches = bucketed(np.random.default_rng(4), str(mnist_dir), 6, 4)
    assert len(batches) == 4
    widths = sorted(lines.shape[2] for lines, _ in batches)
    assert len(set(widths)) > 1  # sorted into groups, not one width for all
    for lines, labels in batches:
        assert lines.shape[:2] == (6, LINE_HEIGHT) and lines.shape[2] % 4 == 0 and len(labels) == 6
