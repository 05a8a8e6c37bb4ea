"""Metrics across workers, JSON access logs with request ids, the OpenAPI document and its UI."""

import json

import pytest
import requests
from openapi_spec_validator import validate

from support.server import running_server
from tests.conftest import NEWEST, committed_versions


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    with running_server(tmp_path_factory.mktemp("obs"), MODEL_DIR=str(models_dir), WORKERS="2") as server:
        yield server


def _sample(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


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
    # Set once at start (this server gets no load or unload calls): one per worker, or the latest value.
    assert _sample(text, "digit_serve_served_version", model="cnn") == NEWEST["cnn"]
    assert _sample(text, "digit_serve_model_provider", model="mlp", provider="CPUExecutionProvider") == 1
    # Every committed version is loaded once in each of the two workers.
    cnn_loads = 2 * len(committed_versions("cnn"))
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


def test_openapi_document_is_valid_and_covers_every_route(client, app):
    document = client.get("/openapi.json").get_json()
    validate(document)
    documented = set()
    for path, item in document["paths"].items():
        documented |= {(path, method.upper()) for method in item if method != "parameters"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/docs/"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in the OpenAPI document"


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


def test_openapi_names_the_models_the_repository_serves(tmp_path, models_dir):
    """The model names in the document come from the repository, not from a list written into the code."""
    import shutil

    from service import create_app
    from service.settings import Settings

    shutil.copytree(models_dir / "linear", tmp_path / "linear")
    app = create_app(Settings(model_dir=tmp_path, default_model="linear", workers=1))
    document = app.test_client().get("/openapi.json").get_json()
    model = document["components"]["schemas"]["PredictRequest"]["properties"]["model"]
    assert (model["enum"], model["default"]) == (["linear"], "linear")
