"""The OpenAPI 3 document for every endpoint, request and error body (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

IMAGE_MEDIA = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int, protocol: bool = False) -> dict:
    schema = _ref("ProtocolError" if protocol else "Error")
    text = {
        400: "Malformed request",
        401: "Missing or wrong bearer token",
        403: "Model control disabled",
        404: "Unknown model, version or path",
        405: "Method not allowed",
        413: "Body, batch or image too large",
        415: "Unsupported or undecodable media",
        422: "Valid JSON of the wrong shape, type or range",
        503: "Not ready",
    }
    return {str(status): _json(schema, text[status]) for status in statuses}


NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "description": "model name"}
VERSION = {"name": "version", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}


def _flag(name: str, description: str, *extra: str) -> dict:
    """A health answer as the protocol's prose writes it: {"live": true}, {"ready": false}, {"name": ..., ...}."""
    properties = {key: {"type": "string"} for key in extra} | {name: {"type": "boolean"}}
    return _json({"type": "object", "required": [*extra, name], "properties": properties}, description)


def _v2_model_paths(suffix: str, operation: dict) -> dict:
    return {
        f"/v2/models/{{name}}{suffix}": {**operation, "parameters": [NAME]},
        f"/v2/models/{{name}}/versions/{{version}}{suffix}": {**operation, "parameters": [NAME, VERSION]},
    }


def _with_method(method: str, operation: dict) -> dict:
    parameters = operation.pop("parameters")
    return {"parameters": parameters, method: operation}


def build_openapi(version: str, models: list[str], default_model: str) -> dict[str, Any]:
    """The whole document, for the models the repository serves now (`models`; requests default to `default_model`)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "digit-serve",
            "version": version,
            "description": "MNIST (MLP, CNN) and linear-regression models served with onnxruntime.",
        },
        "paths": {**_service_paths(), **_v2_paths()},
        "components": {
            "schemas": _schemas(models, default_model),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def _schemas(models: list[str], default_model: str) -> dict[str, Any]:
    """The request and response bodies, the model names among them."""
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {
                "type": "string",
                "enum": ["BOOL", "UINT8", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"],
            },
            "parameters": {
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
                "additionalProperties": True,
            },
            "data": {"type": "array", "items": {}},
        },
    }
    schemas = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "example": "invalid_input"},
                        "message": {"type": "string", "example": "expected 784 values, got 783"},
                    },
                }
            },
        },
        "ProtocolError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "PredictRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "model": {"type": "string", "enum": models, "default": default_model},
                "version": {"type": "integer", "minimum": 1},
                "inputs": {
                    "type": "array",
                    "minItems": 1,
                    "items": {},
                    "description": "mlp/cnn: 784 numbers, 28x28 (or 28x28x1) nested lists in [0, 1]; linear: x or [x]",
                },
            },
            "example": {"model": "linear", "inputs": [1, 2.5, [10]]},
        },
        "Classification": {
            "type": "object",
            "properties": {
                "label": {"type": "integer"},
                "confidence": {"type": "number"},
                "probabilities": {"type": "array", "items": {"type": "number"}, "minItems": 10, "maxItems": 10},
                "is_digit": {
                    "type": "boolean",
                    "description": "whether the image is a digit at all (the isdigit model); absent without it",
                },
            },
        },
        "ReadDigit": {
            "type": "object",
            "required": ["label", "confidence", "box"],
            "properties": {
                "label": {"type": "integer", "minimum": 0, "maximum": 9},
                "confidence": {"type": "number"},
                "is_digit": {"type": "boolean"},
                "box": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "minItems": 4,
                    "maxItems": 4,
                    "description": "x, y, width, height in pixels of the image as sent, after EXIF orientation",
                },
            },
        },
        "ReadResponse": {
            "type": "object",
            "required": ["model", "version", "text", "confidence", "digits"],
            "properties": {
                "model": {"type": "string"},
                "version": {"type": "integer"},
                "text": {"type": "string", "example": "2026"},
                "confidence": {"type": "number", "description": "the product of the digits' confidences"},
                "is_number": {"type": "boolean", "description": "every mark is a digit (is_digit); absent without it"},
                "digits": {"type": "array", "items": _ref("ReadDigit"), "description": "left to right"},
            },
        },
        "PredictResponse": {
            "type": "object",
            "required": ["model", "version", "predictions"],
            "properties": {
                "model": {"type": "string"},
                "version": {"type": "integer"},
                "predictions": {"type": "array", "items": {"oneOf": [_ref("Classification"), {"type": "number"}]}},
                "preprocessed": {
                    "type": "array",
                    "description": "28x28 arrays the model saw (?preprocessed=true)",
                    "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                },
            },
        },
        "TensorSpec": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "datatype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}, "description": "-1: any size"},
            },
        },
        "Model": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "integer"},
                "served_version": {"type": "integer"},
                "versions": {"type": "array", "items": {"type": "integer"}},
                "task": {"type": "string"},
                "inputs": {"type": "array", "items": _ref("TensorSpec")},
                "outputs": {"type": "array", "items": _ref("TensorSpec")},
                "labels": {"type": "array", "items": {"type": "string"}},
                "metrics": {"type": "object"},
                "provider": {"type": "string"},
                "parameters": {"type": "integer"},
                "threshold": {"type": "number", "description": "isdigit: the score at which is_digit is true"},
            },
        },
        "InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {
                    "type": "object",
                    "properties": {"binary_data_output": {"type": "boolean"}},
                    "additionalProperties": True,
                },
                "inputs": {"type": "array", "items": tensor},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}},
                        },
                    },
                },
            },
        },
        "InferResponse": {
            "type": "object",
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": tensor},
            },
        },
        "ModelMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": _ref("TensorSpec")},
                "outputs": {"type": "array", "items": _ref("TensorSpec")},
            },
        },
        "ModelStatistics": {
            "type": "object",
            "required": ["model_stats"],
            "properties": {
                "model_stats": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "version", "inference_count", "execution_count", "inference_stats"],
                        "properties": {
                            "name": {"type": "string"},
                            "version": {"type": "string"},
                            "last_inference": {"type": "integer", "description": "milliseconds since the epoch"},
                            "inference_count": {"type": "integer"},
                            "execution_count": {"type": "integer"},
                            "inference_stats": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "object",
                                    "properties": {"count": {"type": "integer"}, "ns": {"type": "integer"}},
                                },
                            },
                            "batch_stats": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                }
            },
        },
        "RepositoryEntry": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "state": {"type": "string", "enum": ["READY", "UNAVAILABLE"]},
                "reason": {"type": "string"},
            },
        },
    }
    return schemas


def _service_paths() -> dict[str, Any]:
    """/predict, health, the model list, metrics, the documents and the page."""
    return {
        "/predict": {
            "post": {
                "summary": "Predict from JSON numbers, uploaded images or a raw image body",
                "parameters": [
                    {"name": "model", "in": "query", "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer"}},
                    {"name": "preprocessed", "in": "query", "schema": {"type": "boolean"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("PredictRequest")},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "image": {"type": "array", "items": {"type": "string", "format": "binary"}},
                                    "model": {"type": "string"},
                                    "version": {"type": "integer"},
                                },
                            }
                        },
                        **{media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_MEDIA},
                    },
                },
                "responses": {
                    "200": _json(_ref("PredictResponse"), "Predictions, in the order of the inputs"),
                    **_errors(400, 404, 413, 415, 422),
                },
            }
        },
        "/read": {
            "post": {
                "summary": "Read a whole number from one image: its digits left to right, each with its box",
                "parameters": [
                    {"name": "model", "in": "query", "schema": {"type": "string"}},
                    {"name": "version", "in": "query", "schema": {"type": "integer"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "image": {"type": "string", "format": "binary"},
                                    "model": {"type": "string"},
                                    "version": {"type": "integer"},
                                },
                            }
                        },
                        **{media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_MEDIA},
                    },
                },
                "responses": {
                    "200": _json(_ref("ReadResponse"), "The number read"),
                    **_errors(400, 404, 413, 415, 422),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"status": {"type": "string"}}}, "The process is alive"
                    )
                },
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: every model loaded and warmed up",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"status": {"type": "string"}, "models": {"type": "object"}}},
                        "Ready",
                    ),
                    "503": _json({"type": "object"}, "Not ready"),
                },
            }
        },
        "/models": {
            "get": {
                "summary": "Every model with its versions, tensors, metrics and provider",
                "responses": {
                    "200": _json(
                        {"type": "object", "properties": {"models": {"type": "array", "items": _ref("Model")}}},
                        "Models",
                    )
                },
            }
        },
        "/models/{name}": {
            "get": {
                "summary": "One model",
                "parameters": [NAME],
                "responses": {"200": _json(_ref("Model"), "The model"), **_errors(404)},
            }
        },
        "/models/{name}/versions/{version}": {
            "get": {
                "summary": "One version",
                "parameters": [NAME, VERSION],
                "responses": {"200": _json(_ref("Model"), "The version"), **_errors(404)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics, aggregated across workers",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json({"type": "object"}, "OpenAPI 3")}}
        },
        "/": {
            "get": {
                "summary": "The drawing page: draw or drop a digit and watch the classifiers answer",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }
        },
        "/web/{filename}": {
            "get": {
                "summary": "The drawing page's script and style sheet",
                "parameters": [
                    {
                        "name": "filename",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["app.js", "style.css"]},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {
                            "text/javascript": {"schema": {"type": "string"}},
                            "text/css": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(404),
                },
            }
        },
        "/docs": {
            "get": {
                "summary": "Interactive documentation (Swagger UI, served locally)",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
            }
        },
    }


def _v2_paths() -> dict[str, Any]:
    """The open inference protocol: server, health, repository, and each model's operations."""
    binary_body = {
        "type": "string",
        "format": "binary",
        "description": "JSON header of Inference-Header-Content-Length bytes, then raw tensors",
    }
    header_length = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    }
    admin: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    paths: dict[str, Any] = {
        "/v2": {
            "get": {
                "summary": "Server metadata (open inference protocol)",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "version": {"type": "string"},
                                "extensions": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "Server metadata",
                    )
                },
            }
        },
        "/v2/health/live": {"get": {"summary": "Server live", "responses": {"200": _flag("live", "Live")}}},
        "/v2/health/ready": {
            "get": {
                "summary": "Server ready",
                "responses": {"200": _flag("ready", "Ready"), "503": _flag("ready", "Not ready")},
            }
        },
        "/v2/repository/index": {
            "post": {
                "summary": "Every version in the model repository with its state",
                "security": admin,
                "responses": {
                    "200": _json({"type": "array", "items": _ref("RepositoryEntry")}, "Index"),
                    **_errors(401, 403, protocol=True),
                },
            }
        },
        "/v2/repository/models/{name}/load": {
            "post": {
                "summary": "Verify and load the newest version (or parameters.version) in every worker",
                "security": admin,
                "parameters": [NAME],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "parameters": {"type": "object", "properties": {"version": {"type": "integer"}}}
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json({"type": "object"}, "Loaded"), **_errors(400, 401, 403, 404, protocol=True)},
            }
        },
        "/v2/repository/models/{name}/unload": {
            "post": {
                "summary": "Stop serving every version of the model",
                "security": admin,
                "parameters": [NAME],
                "responses": {"200": _json({"type": "object"}, "Unloaded"), **_errors(401, 403, 404, protocol=True)},
            }
        },
    }
    for suffix, method, operation in (
        (
            "",
            "get",
            {
                "summary": "Model metadata",
                "responses": {"200": _json(_ref("ModelMetadata"), "Metadata"), **_errors(404, protocol=True)},
            },
        ),
        (
            "/ready",
            "get",
            {
                "summary": "Model ready",
                "responses": {"200": _flag("ready", "Ready", "name"), **_errors(404, protocol=True)},
            },
        ),
        (
            "/config",
            "get",
            {
                "summary": "Model configuration as Triton reports it",
                "responses": {"200": _json({"type": "object"}, "Configuration"), **_errors(404, protocol=True)},
            },
        ),
        (
            "/stats",
            "get",
            {
                "summary": "Inference statistics per loaded version, as Triton's statistics extension reports them",
                "responses": {"200": _json(_ref("ModelStatistics"), "Statistics"), **_errors(404, protocol=True)},
            },
        ),
        (
            "/infer",
            "post",
            {
                "summary": "Inference with JSON or binary tensors",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("InferRequest")},
                        "application/octet-stream": {"schema": binary_body},
                    },
                },
                "responses": {
                    "200": {
                        "description": "Outputs",
                        "content": {
                            "application/json": {"schema": _ref("InferResponse")},
                            "application/octet-stream": {"schema": binary_body},
                        },
                    },
                    **_errors(400, 404, 413, protocol=True),
                },
            },
        ),
    ):
        for path, spec in _v2_model_paths(suffix, {"parameters": [], **operation}).items():
            if suffix == "/infer":
                spec["parameters"] = [*spec["parameters"], header_length]
            paths[path] = _with_method(method, dict(spec))
    paths["/v2/"] = paths["/v2"]  # the path as the protocol's REST document writes it
    paths["/v2/models/stats"] = {
        "get": {
            "summary": "Inference statistics of every loaded version of every model",
            "responses": {"200": _json(_ref("ModelStatistics"), "Statistics")},
        }
    }
    return paths
