"""Degraded training copies: random renderings of training digits, preprocessed as the service does."""

import io

import numpy as np
from PIL import Image

from service.errors import InvalidInput
from service.reading import mnist_from_image
from training.datasets import degrade


def test_a_rendering_is_a_pure_function_of_the_seed_and_the_index(mnist_sample):
    images, _ = mnist_sample
    assert degrade.render(images[0], 0, 5) == degrade.render(images[0], 0, 5)
    made = {degrade.render(images[0], 0, seed) for seed in range(20)}
    assert len(made) == 20  # a family of renderings, not one
    for data in made:
        Image.open(io.BytesIO(data)).verify()


def test_the_copies_are_what_the_service_hands_the_model_with_their_labels(mnist_sample):
    images, labels = mnist_sample
    pixels, kept = degrade.degraded_copies(images[:60], labels[:60], 5)
    expected, expected_labels = [], []
    for index in range(60):
        try:
            expected.append(mnist_from_image(degrade.render(images[index], index, 5), 10**7))
        except InvalidInput:
            continue  # a digit eroded or blurred to nothing: left out
        expected_labels.append(labels[index])
    assert pixels.dtype == np.uint8 and pixels.shape == (len(expected), 28, 28)
    assert len(expected) >= 55
    np.testing.assert_allclose(pixels / 255, np.stack(expected), atol=0.5 / 255 + 1e-6)
    assert kept.tolist() == expected_labels
