"""The training augmentation: one resampling for the geometry, strokes thickened and thinned, nothing at zero."""

import numpy as np
import pytest

from training.learn.train import Recipe, _augmenter, random_affine, stroke_width


@pytest.fixture(scope="module")
def batch(mnist_sample) -> np.ndarray:
    images, _ = mnist_sample
    return (images[:32] / 255.0).astype(np.float32)[..., np.newaxis]


def test_a_recipe_without_augmentation_has_no_augmenter():
    assert _augmenter(Recipe(epochs=1, batch_size=1), seed=0) is None


def test_the_affine_transform_is_the_identity_at_zero_and_moves_pixels_otherwise(batch):
    np.testing.assert_array_equal(np.asarray(random_affine(batch, Recipe(epochs=1, batch_size=1), 0)), batch)
    moved = np.asarray(random_affine(batch, Recipe(epochs=1, batch_size=1, rotation=0.03, shear=0.2, zoom=0.1), 0))
    assert moved.shape == batch.shape
    assert np.abs(moved - batch).mean(axis=(1, 2, 3)).min() > 0  # every image moved
    # A rotation, slant and zoom this small keep the digit: its ink stays within 20 % of what it was.
    ink, moved_ink = batch.sum(axis=(1, 2, 3)), moved.sum(axis=(1, 2, 3))
    assert np.all(np.abs(moved_ink / ink - 1) < 0.2)


def test_a_pure_shift_moves_the_centre_of_mass_and_nothing_else(batch):
    shifted = np.asarray(random_affine(batch, Recipe(epochs=1, batch_size=1, translation=0.1), 3))
    rows = np.arange(28, dtype=np.float32)[None, :, None, None]
    centre = (batch * rows).sum(axis=(1, 2, 3)) / batch.sum(axis=(1, 2, 3))
    moved = (shifted * rows).sum(axis=(1, 2, 3)) / shifted.sum(axis=(1, 2, 3))
    assert np.abs(moved - centre).max() <= 2.8 + 0.5  # at most 10 % of 28 px, plus what the border clips
    assert np.abs(moved - centre).max() > 0.5


def test_strokes_get_thicker_or_thinner_and_never_change_with_probability_zero(batch):
    np.testing.assert_array_equal(np.asarray(stroke_width(batch, 0.0, 0)), batch)
    changed = np.asarray(stroke_width(batch, 1.0, 0))
    ink, changed_ink = batch.sum(axis=(1, 2, 3)), changed.sum(axis=(1, 2, 3))
    assert (changed_ink > ink * 1.1).any() and (changed_ink < ink * 0.95).any()
    assert changed.min() >= 0.0 and changed.max() <= 1.0
