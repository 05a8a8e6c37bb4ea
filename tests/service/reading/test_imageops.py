"""The reading stages' generic image operations against scipy.ndimage, which the serving image does without.

Each runs on random images of many shapes (and, for the filters, window sizes), with hypothesis, and must give
exactly what scipy gives. scipy is a development dependency (requirements/dev.in); where it is missing, these
tests say so and are skipped.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.reading import imageops

ndimage = pytest.importorskip("scipy.ndimage", reason="scipy (a development dependency) is not installed")

SHAPES = st.tuples(st.integers(1, 40), st.integers(1, 40))
SEEDS = st.integers(0, 2**32 - 1)
CROSS = ndimage.generate_binary_structure(2, 1)
SQUARE = ndimage.generate_binary_structure(2, 2)


def _gray(shape, seed) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def _mask(shape, seed, share: float = 0.4) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < share


@settings(max_examples=80, deadline=None)
@given(shape=SHAPES, size=st.integers(1, 12), seed=SEEDS, maximum=st.booleans())
def test_running_extremes_are_scipys_filters(shape, size, seed, maximum):
    values = _gray(shape, seed)
    accumulate, reference = (np.maximum, ndimage.maximum_filter) if maximum else (np.minimum, ndimage.minimum_filter)
    for axis in (0, 1):
        expected = reference(values, size=[size if a == axis else 1 for a in (0, 1)], mode="nearest")
        np.testing.assert_array_equal(imageops.running(values, size, axis, accumulate), expected)
    np.testing.assert_array_equal(
        imageops.window_extreme(values, size, accumulate), reference(values, size=size, mode="nearest")
    )


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, size=st.integers(1, 9), seed=SEEDS)
def test_the_opening_is_scipys_grey_opening(shape, size, seed):
    """For an odd window; for an even one scipy reflects the window for the dilation, and the opening here keeps
    one window for both (a minimum filter, then a maximum filter over the same pixels)."""
    values = _gray(shape, seed)
    both = ndimage.maximum_filter(ndimage.minimum_filter(values, size=size, mode="nearest"), size=size, mode="nearest")
    np.testing.assert_array_equal(imageops.opening(values, size), both)
    if size % 2 == 0:
        return
    np.testing.assert_array_equal(
        imageops.opening(values, size), ndimage.grey_opening(values, size=size, mode="nearest")
    )


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, size=st.integers(1, 8), seed=SEEDS)
def test_block_reduction_is_a_sum_or_any_over_each_block(shape, size, seed):
    values, mask = _gray(shape, seed), _mask(shape, seed)
    rows, cols = -(-shape[0] // size), -(-shape[1] // size)
    expected_sum = np.array(
        [[values[r * size : (r + 1) * size, c * size : (c + 1) * size].sum() for c in range(cols)] for r in range(rows)]
    )
    np.testing.assert_allclose(imageops.reduce_blocks(values, size, np.add), expected_sum, rtol=1e-5)
    labels = (np.arange(shape[0])[:, None] // size) * cols + np.arange(shape[1])[None, :] // size
    expected_any = ndimage.maximum(mask, labels, index=np.arange(rows * cols)).reshape(rows, cols).astype(bool)
    np.testing.assert_array_equal(imageops.reduce_blocks(mask, size, np.logical_or), expected_any)


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, seed=SEEDS)
def test_dilation_and_reconstruction_are_scipys(shape, seed):
    mask, seeds = _mask(shape, seed), _mask(shape, seed + 1, 0.05)
    np.testing.assert_array_equal(imageops.dilate(mask), ndimage.binary_dilation(mask, structure=CROSS))
    np.testing.assert_array_equal(
        imageops.reconstruct(seeds, mask), ndimage.binary_propagation(seeds & mask, structure=CROSS, mask=mask)
    )


def test_reconstruction_along_a_long_winding_stroke_is_scipys_and_quick():
    """A serpentine one pixel wide through a 200 x 200 mask: 10,000 pixels in one piece, seeded at one end."""
    mask = np.zeros((200, 200), dtype=bool)
    mask[::2] = True
    mask[1::4, -1] = mask[3::4, 0] = True
    seeds = np.zeros_like(mask)
    seeds[0, 0] = True
    started = time.perf_counter()
    grown = imageops.reconstruct(seeds, mask)
    elapsed = time.perf_counter() - started
    np.testing.assert_array_equal(grown, ndimage.binary_propagation(seeds, structure=CROSS, mask=mask))
    assert elapsed < 0.5, f"{elapsed:.2f} s"


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, seed=SEEDS, share=st.floats(0.05, 0.9))
def test_run_labelling_without_corners_finds_scipys_four_connected_pieces(shape, seed, share):
    mask = _mask(shape, seed, share)
    if not mask.any():
        return
    rows, starts, ends = imageops.runs(mask)
    ours = imageops.label_image(mask.shape, rows, starts, ends, imageops.label_runs(rows, starts, ends, diagonal=False))
    theirs, count = ndimage.label(mask, structure=CROSS)
    pairs = set(zip(ours[mask].tolist(), theirs[mask].tolist(), strict=True))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == count


@settings(max_examples=80, deadline=None)
@given(shape=SHAPES, seed=SEEDS, share=st.floats(0.05, 0.9))
def test_run_labelling_finds_scipys_pieces_with_their_boxes_and_areas(shape, seed, share):
    mask = _mask(shape, seed, share)
    if not mask.any():
        return
    rows, starts, ends = imageops.runs(mask)
    labels = imageops.label_runs(rows, starts, ends)
    ours = imageops.label_image(mask.shape, rows, starts, ends, labels)
    theirs, count = ndimage.label(mask, structure=SQUARE)
    # The same partition of the ink into pieces, whatever their numbers.
    pairs = set(zip(ours[mask].tolist(), theirs[mask].tolist(), strict=True))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}) == count
    pieces = imageops.piece_boxes(rows, starts, ends, labels, mask.shape)
    for ours_label, theirs_label in pairs:
        found = ndimage.find_objects((theirs == theirs_label).astype(int))[0]
        box = pieces.box(ours_label)
        assert (box.top, box.bottom, box.left, box.right) == (
            found[0].start,
            found[0].stop,
            found[1].start,
            found[1].stop,
        )
        assert pieces.area[ours_label] == int((theirs == theirs_label).sum())


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, seed=SEEDS)
def test_extent_and_centre_of_mass_are_scipys(shape, seed):
    values = _gray(shape, seed) * _mask(shape, seed)
    box = imageops.extent(values > 0)
    if box is None:
        assert not (values > 0).any()
        return
    found = ndimage.find_objects((values > 0).astype(int))[0]
    assert (box.top, box.bottom, box.left, box.right) == (found[0].start, found[0].stop, found[1].start, found[1].stop)
    np.testing.assert_allclose(imageops.center_of_mass(values), ndimage.center_of_mass(values), rtol=1e-6)
