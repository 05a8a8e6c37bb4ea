"""WORKER_CLASS=gthread: stock gunicorn instead of the service's own worker, the escape hatch for a gunicorn
release that breaks it. It serves every API and sheds overload with a 503 as the own worker does
(service/transport/http/limit.py); what it does not do (even load, slow clients) is measured in `make bench`."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter

import pytest
import requests
import tritonclient.http as httpclient

from service.transport.http.limit import ConcurrencyLimit
from support.server import running_server
from tests.images import pixel_batch, png


@pytest.mark.slow
def test_stock_gthread_serves_every_api(tmp_path, models_dir, mnist_sample):
    images, labels = mnist_sample
    with running_server(tmp_path, MODEL_DIR=str(models_dir), WORKER_CLASS="gthread") as server:
        assert "Using worker: gthread" in server.log()
        answer = requests.post(f"{server.url}/predict", data=png(255 - images[0]), timeout=10).json()
        assert answer["predictions"][0]["label"] == labels[0] and answer["predictions"][0]["is_digit"] is True
        client = httpclient.InferenceServerClient(server.url.removeprefix("http://"))
        tensor = httpclient.InferInput("pixels", [8, 784], "FP32")
        tensor.set_data_from_numpy(pixel_batch(images[:8]), binary_data=True)
        found = client.infer("mlp", [tensor]).as_numpy("probabilities").argmax(axis=1)
        assert found.tolist() == labels[:8].tolist()
        assert client.is_server_ready()


@pytest.mark.slow
def test_stock_gthread_sheds_overload_with_503_and_retry_after(tmp_path, models_dir):
    """128 concurrent clients against 2 workers x (2 running + 8 waiting): the rest answered 503 at once."""
    with running_server(
        tmp_path, MODEL_DIR=str(models_dir), WORKER_CLASS="gthread", THREADS="2", MAX_QUEUE="8"
    ) as server:
        statuses: Counter[str] = Counter()
        lock = threading.Lock()
        images = json.dumps({"model": "cnn", "inputs": [[0.5] * 784] * 64})

        def client() -> None:
            for _ in range(4):
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
                try:
                    connection.request("POST", "/predict", images, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    body = response.read()
                    key = str(response.status)
                    if response.status == 503:
                        assert response.getheader("Retry-After") == "1"
                        assert json.loads(body)["error"]["code"] == "service_unavailable"
                except OSError as exc:
                    key = type(exc).__name__
                finally:
                    connection.close()
                with lock:
                    statuses[key] += 1

        threads = [threading.Thread(target=client) for _ in range(128)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert set(statuses) <= {"200", "503"}, statuses
    assert statuses["200"] > 0 and statuses["503"] > 0, statuses


def test_the_limit_runs_some_queues_some_and_sheds_the_rest():
    """In process: one running, one waiting; a third request at that moment is answered 503 without waiting."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow_app(environ, start_response):
        started.release()
        release.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    limit = ConcurrencyLimit(slow_app, running=1, waiting=1, max_body_bytes=1024)
    answers: list[str] = []

    def call() -> None:
        def start_response(status, headers):
            answers.append(status)

        list(limit({"CONTENT_LENGTH": "0"}, start_response))

    first, second = threading.Thread(target=call), threading.Thread(target=call)
    first.start()
    assert started.acquire(timeout=5)  # the first runs
    second.start()
    time.sleep(0.1)  # the second waits for a turn
    shed_at = time.perf_counter()
    call()  # the third: neither running nor waiting
    assert answers == ["503 Service Unavailable"] and time.perf_counter() - shed_at < 0.5
    release.set()
    first.join(5)
    second.join(5)
    assert sorted(answers) == ["200 OK", "200 OK", "503 Service Unavailable"]
