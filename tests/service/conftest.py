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
def glyphs(mnist_sample) -> dict[int, np.ndarray]:
    """One MNIST test digit per label (the first of each), tightly cropped, ink 255 on 0, enlarged 3x."""
    from PIL import Image

    from tests.images import tight

    images, labels = mnist_sample
    first = {int(label): tight(images[i]) for i, label in reversed(list(enumerate(labels)))}
    return {
        d: np.asarray(Image.fromarray(g).resize((g.shape[1] * 3, g.shape[0] * 3), Image.Resampling.BICUBIC))
        for d, g in first.items()
    }
