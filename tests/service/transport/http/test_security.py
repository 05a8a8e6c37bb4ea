"""API keys, security headers and CORS, through the Flask client on the committed models."""

import pytest

from service import create_app
from service.settings import Settings

KEYS = "first-key,second-key"
PIXELS = {"model": "linear", "inputs": [1.0]}


@pytest.fixture(scope="module")
def keyed(models_dir):
    app = create_app(
        Settings.from_env(
            {},
            model_dir=models_dir,
            workers=1,
            api_keys=KEYS,
            admin_token="admin",
            cors_origins="https://digits.example",
        )
    )
    return app.test_client()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "first-key2"},
        {"Authorization": "Basic first-key"},
        {"X-API-Key": ""},
    ],
)
def test_predictions_and_metadata_need_a_key_when_keys_are_set(keyed, headers):
    for method, path in (
        ("post", "/predict"),
        ("post", "/read"),
        ("get", "/models"),
        ("get", "/models/mlp"),
        ("get", "/v2"),
        ("get", "/v2/models/mlp"),
        ("post", "/v2/models/linear/infer"),
    ):
        response = getattr(keyed, method)(path, json=PIXELS if method == "post" else None, headers=headers)
        assert response.status_code == 401, (path, response.get_data(as_text=True))
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "API key" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer first-key"}, {"Authorization": "bearer second-key"}, {"X-API-Key": "second-key"}],
)
def test_either_header_with_any_configured_key_is_accepted(keyed, headers):
    response = keyed.post("/predict", json=PIXELS, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["model"] == "linear"


def test_probes_metrics_docs_and_model_control_stay_outside_the_keys(keyed):
    for path in ("/healthz", "/readyz", "/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json", "/docs"):
        assert keyed.get(path).status_code == 200, path
    index = keyed.post("/v2/repository/index", headers={"Authorization": "Bearer admin"})
    assert index.status_code == 200  # the admin token alone: model control is independent of API keys
    assert keyed.post("/v2/repository/index", headers={"Authorization": "Bearer first-key"}).status_code == 401


def test_every_response_carries_the_security_headers(client, keyed):
    for response in (
        client.get("/healthz"),
        client.post("/predict", data=b"{"),
        keyed.get("/models"),
        client.get("/nowhere"),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    page = client.get("/docs")
    policy = page.headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in policy
        and "frame-ancestors 'none'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )


def test_cors_is_off_unless_origins_are_configured(client, keyed):
    origin = {"Origin": "https://digits.example"}
    assert "Access-Control-Allow-Origin" not in client.post("/predict", json=PIXELS, headers=origin).headers
    allowed = keyed.post("/predict", json=PIXELS, headers={**origin, "X-API-Key": "first-key"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://digits.example"
    assert "Origin" in allowed.headers["Vary"]
    preflight = keyed.options(
        "/predict",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert preflight.status_code == 200  # a browser's preflight carries no key
    assert "X-API-Key" in preflight.headers["Access-Control-Allow-Headers"]
    stranger = keyed.post("/predict", json=PIXELS, headers={"Origin": "https://evil.example", "X-API-Key": "first-key"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_no_response_names_a_path_on_the_server_or_shows_a_traceback(client, models_dir):
    for response in (
        client.get("/models/nope"),
        client.post("/predict", data=b"\x89PNG junk", content_type="image/png"),
        client.post("/v2/models/mlp/infer", data=b"{]"),
    ):
        text = response.get_data(as_text=True)
        assert str(models_dir) not in text and "Traceback" not in text and 'File "' not in text
