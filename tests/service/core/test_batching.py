"""Adaptive batching with the real models: each caller gets its own rows, a bad request fails alone,
a caller that waits too long gets a 503, and nothing is left running once requests stop."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from service import create_app
from service.core import batching
from service.core.runner import ModelRunner
from service.core.statistics import model_statistics
from service.errors import ServiceUnavailable
from service.settings import BatchPolicy, Settings, SettingsError, parse_batching
from tests.metrics import sample


@pytest.fixture(scope="module")
def mlp(app):
    return app.extensions["runtime"].registry.get("mlp")


def _batches(model: str) -> tuple[float, float]:
    return sample("digit_serve_batch_size_count", model=model), sample("digit_serve_batch_size_sum", model=model)


def _rows(mnist_sample, count: int) -> np.ndarray:
    images, _ = mnist_sample
    return (images[:count] / 255.0).reshape(count, 784).astype(np.float32)


def test_concurrent_callers_share_runs_and_each_gets_its_own_rows(mlp, mnist_sample):
    plane = ModelRunner(1000, {"mlp": BatchPolicy(max_batch_size=16, max_delay_s=0.05)})
    rows = _rows(mnist_sample, 32)
    expected = mlp.run({"pixels": rows})[0]
    before = _batches("mlp")
    stats_before = model_statistics({"mlp": [mlp.version]})[0]
    barrier = threading.Barrier(16)

    def call(i: int) -> np.ndarray:
        barrier.wait()
        sizes = 1 + i % 3  # callers of 1, 2 and 3 rows
        start = i * 2 % 29
        return start, sizes, plane.infer(mlp, {"pixels": rows[start : start + sizes]})["probabilities"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, range(16)))
    for start, size, probabilities in results:
        np.testing.assert_allclose(probabilities, expected[start : start + size], atol=1e-6)
    runs, batched_rows = (after - b for after, b in zip(_batches("mlp"), before, strict=True))
    assert batched_rows == sum(size for _, size, _ in results)
    assert runs < 16  # shared runs happened
    assert batched_rows / runs > 2
    stats = model_statistics({"mlp": [mlp.version]})[0]
    waited = stats["inference_stats"]["queue"]["count"] - stats_before["inference_stats"]["queue"]["count"]
    assert waited == 16  # every caller waited in the batcher's queue, and the statistics say so
    assert stats["execution_count"] - stats_before["execution_count"] == runs


def test_a_request_that_cannot_run_fails_alone(mlp, mnist_sample):
    plane = ModelRunner(1000, {"mlp": BatchPolicy(max_batch_size=8, max_delay_s=0.05)})
    rows = _rows(mnist_sample, 4)
    barrier = threading.Barrier(4)

    def call(i: int):
        barrier.wait()
        batch = rows[i : i + 1].astype(np.float64) if i == 2 else rows[i : i + 1]  # the model takes float32
        try:
            return plane.infer(mlp, {"pixels": batch})["probabilities"].argmax()
        except Exception as exc:  # noqa: BLE001 - the test looks at what it was
            return exc

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(call, range(4)))
    labels = mnist_sample[1][:4]
    assert [answers[i] for i in (0, 1, 3)] == [labels[i] for i in (0, 1, 3)]
    assert "double" in str(answers[2]) or "float" in str(answers[2])


def test_a_caller_that_waits_too_long_gets_a_503_and_its_rows_are_dropped(mlp, mnist_sample):
    plane = ModelRunner(1000, {"mlp": BatchPolicy(max_batch_size=64, max_delay_s=0.3, timeout_s=0.05)})
    before = _batches("mlp")
    with pytest.raises(ServiceUnavailable, match="overloaded"):
        plane.infer(mlp, {"pixels": _rows(mnist_sample, 1)})
    time.sleep(0.4)  # past the batch's delay: the abandoned request must not have been run
    assert _batches("mlp") == before


def test_a_request_as_large_as_a_batch_runs_directly(mlp, mnist_sample):
    plane = ModelRunner(1000, {"mlp": BatchPolicy(max_batch_size=4, max_delay_s=5.0)})
    before = _batches("mlp")
    started = time.perf_counter()
    assert plane.infer(mlp, {"pixels": _rows(mnist_sample, 4)})["probabilities"].shape == (4, 10)
    assert time.perf_counter() - started < 2.5  # did not wait out the 5 s batch delay
    assert _batches("mlp") == before


def test_the_scheduler_thread_ends_when_idle_and_comes_back(mlp, mnist_sample, monkeypatch):
    monkeypatch.setattr(batching, "IDLE_EXIT_S", 0.05)
    plane = ModelRunner(1000, {"mlp": BatchPolicy(max_batch_size=8, max_delay_s=0.001)})

    earlier = set(threading.enumerate())  # schedulers of other tests' planes end on their own time
    plane.infer(mlp, {"pixels": _rows(mnist_sample, 1)})
    (scheduler,) = [t for t in threading.enumerate() if t not in earlier and t.name == f"batcher-mlp-{mlp.version}"]
    scheduler.join(5)
    assert not scheduler.is_alive(), "the idle scheduler did not end"
    assert plane.infer(mlp, {"pixels": _rows(mnist_sample, 1)})["probabilities"].shape == (1, 10)


def test_batching_settings_are_parsed_and_checked():
    assert parse_batching("mlp=64/2, cnn=32/0.5") == {"mlp": BatchPolicy(64, 0.002), "cnn": BatchPolicy(32, 0.0005)}
    assert parse_batching("") == {}
    for bad in ("mlp", "mlp=1/2", "mlp=8/5000", "=8/2", "mlp=eight/2"):
        with pytest.raises(SettingsError, match="BATCHING"):
            Settings.from_env({"BATCHING": bad})


def test_predict_answers_the_same_with_batching_on(models_dir, client, mnist_sample):
    batched = create_app(Settings.from_env({}, model_dir=models_dir, workers=1, batching="mlp=8/1,cnn=8/1"))
    images, _ = mnist_sample
    body = {"model": "mlp", "inputs": (images[:3] / 255.0).reshape(3, 784).round(4).tolist()}
    assert batched.test_client().post("/predict", json=body).get_json() == client.post("/predict", json=body).get_json()
