"""schemathesis against the service's own /openapi.json: every operation, generated inputs, in process.

Bounded and repeatable: a fixed seed (derandomized), a fixed number of examples per operation, no
deadline per example, and pytest's timeout over it all. Every response must be a non-5xx that conforms
to the documented schema (status code, content type, body). Model control is called with the admin
token so that its documented answers are reached; a load or unload it makes only changes this
in-process app.
"""

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service import __version__, create_app
from service.core.registry import discover
from service.settings import Settings
from service.transport.http.openapi import build_openapi
from tests.fixtures import MODELS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def app():
    return create_app(Settings.from_env({}, model_dir=MODELS, workers=1, admin_token="fuzz-admin", max_instances=64))


# The document the app serves for the committed repository, built as /openapi.json builds it, with no model
# loaded at import; the app that answers is made by the fixture above, when a test runs.
# (schemathesis.pytest.from_fixture would take the app's own answer, but fails under pytest 9: no Item._nodeid.)
schema = schemathesis.openapi.from_dict(build_openapi(__version__, sorted(discover(MODELS)), "cnn"))


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, app):
    case.call_and_validate(app=app, headers={"Authorization": "Bearer fuzz-admin"}, checks=CHECKS)


def test_the_fuzzed_document_is_the_one_the_app_serves(client):
    assert client.get("/openapi.json").get_json() == schema.raw_schema


# -- the open inference protocol: any JSON where the protocol expects a name, shape, datatype or parameters --
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
SHAPES = st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=4) | JSON
TENSOR = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["pixels", "x", "image"]) | JSON,
        "shape": st.sampled_from([[1, 784], [0, 784], [2**60, 784]]) | SHAPES,
        "datatype": st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "BOOL"]) | JSON,
        "data": st.lists(st.floats(allow_nan=True), max_size=4) | st.just([0.5] * 784) | JSON,
        "parameters": st.fixed_dictionaries({}, optional={"binary_data_size": JSON, "binary_data": JSON}) | JSON,
    },
)
REQUEST = st.fixed_dictionaries(
    {"inputs": st.lists(TENSOR, max_size=3) | JSON},
    optional={
        "id": JSON,
        "parameters": st.dictionaries(st.text(max_size=6), JSON, max_size=3) | JSON,
        "outputs": st.lists(
            st.fixed_dictionaries(
                {}, optional={"name": st.sampled_from(["probabilities", "y"]) | JSON, "parameters": JSON}
            ),
            max_size=3,
        )
        | JSON,
    },
)


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(request=REQUEST, model=st.sampled_from(["mlp", "cnn", "linear"]), binary=st.booleans())
def test_any_json_in_an_inference_request_gets_a_4xx_or_an_answer_never_a_5xx(client, request, model, binary):
    """Names, shapes, datatypes, data and parameters of any JSON type, as JSON or as a binary-extension header."""
    header = json.dumps(request, allow_nan=True).encode()
    extra = {"Inference-Header-Content-Length": str(len(header))} if binary else {}
    body = header + (b"\x00" * 3136 if binary else b"")
    response = client.post(
        f"/v2/models/{model}/infer", data=body, headers={"Content-Type": "application/json", **extra}
    )
    assert response.status_code < 500, (response.status_code, response.get_data()[:300])
    if response.status_code >= 400:
        assert isinstance(response.get_json()["error"], str)  # the protocol's error body
