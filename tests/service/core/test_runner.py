"""The data plane: the one path every API takes to run a model, with the instance limit and the metrics."""

import numpy as np
import pytest

from service.core.runner import ModelRunner
from service.errors import PayloadTooLarge
from tests.fixtures import NEWEST
from tests.metrics import sample


@pytest.fixture(scope="module")
def registry(app):
    return app.extensions["runtime"].registry


def _inferences(model: str) -> float:
    return sample("digit_serve_inference_latency_seconds_count", model=model, version=str(NEWEST[model]))


def test_named_outputs_come_back_for_named_inputs_and_the_inference_is_counted(registry, mnist_sample):
    images, labels = mnist_sample
    mlp = registry.get("mlp")
    before = _inferences("mlp")
    pixels = (images[:5] / 255.0).reshape(5, 784).astype(np.float32)
    outputs = ModelRunner(max_instances=10).infer(mlp, {"pixels": pixels})
    assert list(outputs) == ["probabilities"]
    assert outputs["probabilities"].argmax(axis=1).tolist() == labels[:5].tolist()
    assert _inferences("mlp") == before + 1


def test_the_instance_limit_holds_for_every_input_kind(registry):
    plane = ModelRunner(max_instances=2)
    linear = registry.get("linear")
    assert plane.infer_one(linear, np.ones((2, 1), dtype=np.float32)).shape == (2, 1)
    before = _inferences("linear")
    with pytest.raises(PayloadTooLarge, match="3 instances in one request; the limit is 2"):
        plane.infer_one(linear, np.ones((3, 1), dtype=np.float32))
    assert _inferences("linear") == before  # refused before the model ran


def _stats(model: str) -> dict:
    from service.core.statistics import model_statistics

    return model_statistics({model: [NEWEST[model]]})[0]


def test_statistics_count_requests_instances_runs_and_failures_as_triton_reports_them(registry):
    linear = registry.get("linear")
    plane = ModelRunner(max_instances=4)
    before = _stats("linear")
    plane.infer_one(linear, np.ones((3, 1), dtype=np.float32))
    plane.infer_one(linear, np.ones((1, 1), dtype=np.float32))
    with pytest.raises(PayloadTooLarge):
        plane.infer_one(linear, np.ones((5, 1), dtype=np.float32))
    after = _stats("linear")
    counts = {
        "inferences": after["inference_count"] - before["inference_count"],
        "executions": after["execution_count"] - before["execution_count"],
        **{
            kind: after["inference_stats"][kind]["count"] - before["inference_stats"][kind]["count"]
            for kind in ("success", "fail", "compute_input", "compute_infer", "compute_output", "queue")
        },
    }
    assert counts == {
        "inferences": 4,
        "executions": 2,
        "success": 2,
        "fail": 1,
        "compute_input": 2,
        "compute_infer": 2,
        "compute_output": 2,
        "queue": 0,  # no BATCHING: nothing waits
    }
    spent = after["inference_stats"]["success"]["ns"] - before["inference_stats"]["success"]["ns"]
    ran = after["inference_stats"]["compute_infer"]["ns"] - before["inference_stats"]["compute_infer"]["ns"]
    assert 0 < ran <= spent  # the run is part of the request's time
    assert after["last_inference"] > 0
