"""schemathesis against the service's own /openapi.json: every operation, generated inputs, in process.

Bounded and repeatable: a fixed seed (derandomized), a fixed number of examples per operation, no
deadline per example, and pytest's timeout over it all. Every response must be a non-5xx that conforms
to the documented schema (status code, content type, body). Model control is called with the admin
token so that its documented answers are reached; a load or unload it makes only changes this
in-process app.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service import create_app
from service.settings import Settings
from tests.conftest import MODELS

app = create_app(Settings.from_env({}, model_dir=MODELS, workers=1, admin_token="fuzz-admin", max_instances=64))
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    case.call_and_validate(headers={"Authorization": "Bearer fuzz-admin"}, checks=CHECKS)
