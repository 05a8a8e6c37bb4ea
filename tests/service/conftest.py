from __future__ import annotations

import numpy as np
import pytest

from service import create_app
from service.settings import Settings


@pytest.fixture(scope="session")
def digit(mnist_sample) -> np.ndarray:
    """An MNIST test digit (a 7) as uint8 28x28, bright ink on black."""
    images, labels = mnist_sample
    assert labels[0] == 7
    return images[0]


@pytest.fixture(scope="session")
def settings(models_dir) -> Settings:
    return Settings.from_env(
        {},
        model_dir=models_dir,
        workers=1,
        max_instances=300,
        max_image_pixels=4_000_000,
        max_body_bytes=2 * 1024 * 1024,
    )


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def glyphs(mnist_sample, models_dir) -> dict[int, np.ndarray]:
    """For each label, the first MNIST test digit that the served CNN reads right on its own: tightly cropped,
    ink 255 on 0, enlarged 3x. The reading tests are about where digits are found and cut, so they are built of
    digits the classifier knows; how often it misreads a digit is the evaluation's measure (make evaluate), not
    theirs. (The CNN trained with typed digits reads the sample's first 3, enlarged, as an 8 at 0.83.)"""
    from PIL import Image

    from service.core.model import load_version
    from service.reading import mnist_from_image
    from tests.fixtures import NEWEST
    from tests.images import encode, on_white, tight

    cnn = load_version(models_dir / "cnn" / str(NEWEST["cnn"]), ["CPUExecutionProvider"], 1)
    images, labels = mnist_sample
    found: dict[int, np.ndarray] = {}
    for image, label in zip(images, labels, strict=True):
        if int(label) in found:
            continue
        crop = tight(image)
        glyph = np.asarray(Image.fromarray(crop).resize((crop.shape[1] * 3, crop.shape[0] * 3), Image.BICUBIC))
        pixels = mnist_from_image(encode(on_white(glyph)), 25_000_000)[None].astype(np.float32)
        if int(cnn.run({cnn.input.name: pixels.reshape(1, *cnn.input.shape[1:])})[0].argmax()) == int(label):
            found[int(label)] = glyph
    assert len(found) == 10, f"the sample lacks a digit the CNN reads right for {set(range(10)) - set(found)}"
    return found
