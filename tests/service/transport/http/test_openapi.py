"""The API document cannot drift from the code: every route and method, every image media type the decoder
accepts, every error code, and the models the repository serves are in it; and it is valid OpenAPI 3."""

import pytest
import yaml
from openapi_spec_validator import validate

from service.errors import error_classes
from service.reading import IMAGE_MEDIA_TYPES
from service.transport.http.openapi import DOCUMENT


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get("/openapi.json").get_json()


def test_openapi_document_is_valid_and_covers_every_route(document, app):
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


def test_every_image_media_type_the_decoder_accepts_is_documented_where_images_are_taken(document):
    for path in ("/predict", "/read"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        assert {media for media in content if media.startswith("image/")} == IMAGE_MEDIA_TYPES, path


def test_every_error_code_is_documented(document, client):
    codes = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert {kind.code for kind in error_classes()} <= set(codes)
    for path in ("/nowhere", "/predict"):  # an HTTP error's code, as the error handler writes it
        answer = client.get(path).get_json()["error"]
        assert answer["code"] in codes, answer


def test_the_yaml_holds_no_list_that_the_code_owns():
    """Media types, model names and error codes come from their one source, never written into the YAML."""
    written = yaml.safe_load(DOCUMENT.read_text())
    schemas = written["components"]["schemas"]
    assert schemas["PredictRequest"]["properties"]["model"]["enum"] == ["filled in from the model repository"]
    assert schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"] == ["filled in from the error classes"]
    for path in ("/predict", "/read"):
        media = [m for m in written["paths"][path]["post"]["requestBody"]["content"] if m.startswith("image/")]
        assert media == ["image/*"], path


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
