"""The data plane: the one path every API takes to run a model, with the instance limit and the metrics."""

import numpy as np
import pytest
from prometheus_client import REGISTRY

from service.dataplane import DataPlane
from service.errors import PayloadTooLarge
from tests.conftest import NEWEST


@pytest.fixture(scope="module")
def registry(app):
    return app.extensions["registry"]


def _inferences(model: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "digit_serve_inference_latency_seconds_count", {"model": model, "version": str(NEWEST[model])}
        )
        or 0.0
    )


def test_named_outputs_come_back_for_named_inputs_and_the_inference_is_counted(registry, mnist_sample):
    images, labels = mnist_sample
    mlp = registry.get("mlp")
    before = _inferences("mlp")
    pixels = (images[:5] / 255.0).reshape(5, 784).astype(np.float32)
    outputs = DataPlane(max_instances=10).infer(mlp, {"pixels": pixels})
    assert list(outputs) == ["probabilities"]
    assert outputs["probabilities"].argmax(axis=1).tolist() == labels[:5].tolist()
    assert _inferences("mlp") == before + 1


def test_the_instance_limit_holds_for_every_input_kind(registry):
    plane = DataPlane(max_instances=2)
    linear = registry.get("linear")
    assert plane.infer_one(linear, np.ones((2, 1), dtype=np.float32)).shape == (2, 1)
    before = _inferences("linear")
    with pytest.raises(PayloadTooLarge, match="3 instances in one request; the limit is 2"):
        plane.infer_one(linear, np.ones((3, 1), dtype=np.float32))
    assert _inferences("linear") == before  # refused before the model ran
