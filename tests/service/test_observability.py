"""Metrics across workers, JSON access logs with request ids, the OpenAPI document and its UI."""

import json

import pytest
import requests

from tests.fixtures import LOADED, NEWEST
from tests.metrics import sample


@pytest.fixture
def server(http_server):
    return http_server


def _sample(metrics: str, name: str, **labels: str) -> float:
    return sample(name, metrics, **labels)


def _metrics(server) -> str:
    return requests.get(f"{server.url}/metrics", timeout=5).text


@pytest.mark.slow
def test_metrics_add_up_across_workers(server):
    counted = {
        "ok": (
            "digit_serve_requests_total",
            {"endpoint": "/predict", "status": "200", "model": "linear", "version": "1"},
        ),
        "not_found": ("digit_serve_requests_total", {"endpoint": "/predict", "status": "404"}),
        "instances": ("digit_serve_instances_per_request_sum", {"model": "linear"}),
        "inferences": ("digit_serve_inference_latency_seconds_count", {"model": "linear"}),
        "latencies": ("digit_serve_request_latency_seconds_count", {"endpoint": "/predict"}),
    }
    text = _metrics(server)
    before = {key: _sample(text, name, **labels) for key, (name, labels) in counted.items()}
    for _ in range(30):  # fresh connections: spread over both workers
        response = requests.post(f"{server.url}/predict", json={"model": "linear", "inputs": [1, 2, 3]}, timeout=5)
        assert response.ok
    requests.post(f"{server.url}/predict", json={"model": "nope", "inputs": [1]}, timeout=5)
    text = _metrics(server)
    after = {key: _sample(text, name, **labels) for key, (name, labels) in counted.items()}
    assert {key: after[key] - before[key] for key in counted} == {
        "ok": 30,
        "not_found": 1,
        "instances": 90,
        "inferences": 30,
        "latencies": 31,
    }
    # Set once at start (the shared HTTP server gets no load or unload calls): one per worker, or the latest value.
    assert _sample(text, "digit_serve_served_version", model="cnn") == NEWEST["cnn"]
    assert _sample(text, "digit_serve_model_provider", model="mlp", provider="CPUExecutionProvider") == 1
    # Every version it serves (the newest MAX_VERSIONS committed) is loaded once in each of the two workers.
    cnn_loads = 2 * len(LOADED["cnn"])
    assert _sample(text, "digit_serve_model_loads_total", model="cnn", result="success") == cnn_loads


@pytest.mark.slow
def test_one_json_log_line_per_request_with_the_request_id_echoed(server):
    response = requests.post(
        f"{server.url}/predict",
        json={"model": "linear", "inputs": [1, 2]},
        headers={"X-Request-ID": "trace-42"},
        timeout=5,
    )
    assert response.headers["X-Request-ID"] == "trace-42"
    generated = requests.get(f"{server.url}/healthz", timeout=5).headers["X-Request-ID"]
    assert len(generated) == 32
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    entry = next(line for line in lines if line["request_id"] == "trace-42")
    assert entry["method"] == "POST" and entry["path"] == "/predict" and entry["status"] == 200
    assert entry["model"] == "linear" and entry["version"] == 1 and entry["instances"] == 2
    assert entry["latency_ms"] > 0 and entry["ts"].endswith("Z")
    assert any(line["request_id"] == generated for line in lines)


def test_request_id_that_is_not_a_safe_token_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert response.headers["X-Request-ID"] != "<script>alert(1)</script>"


def test_docs_page_is_served_with_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http" not in html  # no CDN: every asset comes from this server
    for asset in ("/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js", "/docs/init.js"):
        assert asset in html
        response = client.get(asset)
        assert response.status_code == 200
        assert len(response.get_data()) > 20
        response.close()
    assert client.get("/docs/assets/../../secret").status_code == 404
