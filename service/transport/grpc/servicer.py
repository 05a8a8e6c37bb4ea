"""The gRPC servicer of the Open Inference Protocol (`inference.GRPCInferenceService`): protobuf in, the data
plane's operations (service/core/dataplane.py), protobuf out.

Tensors are checked by the rules both transports share (service/core/tensors.py), typed errors become the
gRPC status code on their class (service/errors.py), and every call gets the same request metrics and JSON
access line as an HTTP request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import wraps

import grpc
import numpy as np

from service import observability
from service.auth import key_from, key_matches, parse_list, require_admin
from service.bootstrap import Runtime
from service.core.model import ModelVersion
from service.core.tensors import TensorIn, decode_inputs
from service.errors import BadRequest, ServiceError, Unauthorized
from service.transport.grpc.protos import grpc_predict_v2_pb2 as pb
from service.transport.grpc.protos import grpc_predict_v2_pb2_grpc as pb_grpc

log = logging.getLogger("service.grpc")
# Where InferTensorContents holds each datatype's values (FP32's field for any other datatype, which the
# datatype check then refuses with the same message as over HTTP).
CONTENTS = {
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
}


def _contents_field(datatype: str) -> str:
    return CONTENTS.get(datatype, "fp32_contents")


def _rpc(needs_key: bool = True) -> Callable:
    """Each RPC: the API key when keys are set, typed errors as gRPC status codes, a log line and metrics."""

    def decorate(method: Callable) -> Callable:
        @wraps(method)
        def call(self: InferenceServicer, request, context: grpc.ServicerContext):
            started = time.perf_counter()
            tags: dict = {}
            code = grpc.StatusCode.OK
            try:
                if needs_key and self.api_keys:
                    self.require_key(context)
                self.registry.sync()
                return method(self, request, context, tags)
            except ServiceError as exc:
                code = getattr(grpc.StatusCode, exc.grpc_status)
                context.abort(code, exc.message)  # raises: the call ends with this status
            except Exception:
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error in %s", method.__name__)
                context.abort(code, "internal server error; see the server log")
            finally:
                observability.record_grpc(
                    method.__name__, code.name, tags, time.perf_counter() - started, context.peer()
                )

        return call

    return decorate


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, runtime: Runtime) -> None:
        self.settings = runtime.settings
        self.registry = runtime.registry
        self.core = runtime.dataplane
        self.api_keys = parse_list(runtime.settings.api_keys)

    # -- access ------------------------------------------------------------------------------------
    @staticmethod
    def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
        return {key.lower(): value for key, value in context.invocation_metadata() if isinstance(value, str)}

    def require_key(self, context: grpc.ServicerContext) -> None:
        metadata = self._metadata(context)
        if not key_matches(key_from(metadata.get("authorization", ""), metadata.get("x-api-key", "")), self.api_keys):
            raise Unauthorized("this call needs an API key: metadata 'authorization: Bearer <key>' or 'x-api-key'")

    def require_admin(self, context: grpc.ServicerContext) -> None:
        require_admin(self.settings.admin_token, self._metadata(context).get("authorization", ""), "metadata")

    def ready(self) -> bool:
        return self.core.server_ready()

    # -- health and metadata ---------------------------------------------------------------------------
    @_rpc(needs_key=False)
    def ServerLive(self, request, context, tags):  # noqa: N802 - the protocol's method names
        return pb.ServerLiveResponse(live=True)

    @_rpc(needs_key=False)
    def ServerReady(self, request, context, tags):  # noqa: N802
        return pb.ServerReadyResponse(ready=self.ready())

    @_rpc()
    def ModelReady(self, request, context, tags):  # noqa: N802
        return pb.ModelReadyResponse(ready=self.core.model_ready(request.name, request.version))

    @_rpc()
    def ServerMetadata(self, request, context, tags):  # noqa: N802
        return pb.ServerMetadataResponse(**self.core.server_metadata())

    @_rpc()
    def ModelConfig(self, request, context, tags):  # noqa: N802 - Triton's model configuration extension
        found = self.core.model_config(request.name, request.version)
        config = pb.ModelConfig(
            name=found["name"],
            platform=found["platform"],
            backend=found["backend"],
            version_policy=pb.ModelVersionPolicy(latest=pb.ModelVersionPolicy.Latest(num_versions=1)),
            max_batch_size=found["max_batch_size"],
            input=[pb.ModelInput(name=t["name"], data_type=t["data_type"], dims=t["dims"]) for t in found["input"]],
            output=[pb.ModelOutput(name=t["name"], data_type=t["data_type"], dims=t["dims"]) for t in found["output"]],
            instance_group=[pb.ModelInstanceGroup(kind=g["kind"], count=g["count"]) for g in found["instance_group"]],
        )
        for key, value in found["parameters"].items():
            config.parameters[key].string_value = value["string_value"]
        return pb.ModelConfigResponse(config=config)

    @_rpc()
    def ModelStatistics(self, request, context, tags):  # noqa: N802 - Triton's statistics extension
        entries = self.core.statistics(request.name, request.version)
        return pb.ModelStatisticsResponse(model_stats=[pb.ModelStatistics(**entry) for entry in entries])

    @_rpc()
    def ModelMetadata(self, request, context, tags):  # noqa: N802
        found = self.core.model_metadata(request.name, request.version)
        return pb.ModelMetadataResponse(
            name=found["name"],
            versions=found["versions"],
            platform=found["platform"],
            inputs=[pb.ModelMetadataResponse.TensorMetadata(**tensor) for tensor in found["inputs"]],
            outputs=[pb.ModelMetadataResponse.TensorMetadata(**tensor) for tensor in found["outputs"]],
        )

    # -- inference ------------------------------------------------------------------------------------
    @_rpc()
    def ModelInfer(self, request, context, tags):  # noqa: N802
        model = self.core.model(request.model_name, request.model_version)
        inference = self.core.infer(model, self._inputs(request, model), [output.name for output in request.outputs])
        served = inference.served
        tags.update(model=served.model, version=served.version, instances=served.instances)
        response = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
        for tensor in inference.outputs:
            response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            response.raw_output_contents.append(tensor.values.tobytes())
        return response

    @staticmethod
    def _inputs(request, model: ModelVersion) -> dict[str, np.ndarray]:
        """The request's tensors as checked arrays: the same rules and messages as the HTTP protocol."""
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise BadRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; send one per input")

        def tensors() -> Iterator[TensorIn]:
            for index, tensor in enumerate(request.inputs):
                if raw and tensor.contents.ListFields():  # the proto: contents must not be given with raw contents
                    raise BadRequest(
                        f"input '{tensor.name}': give its values in contents or in raw_input_contents, not both"
                    )
                contents = raw[index] if raw else list(getattr(tensor.contents, _contents_field(tensor.datatype)))
                yield TensorIn(tensor.name, tensor.datatype, list(tensor.shape), contents)

        return decode_inputs(model, tensors())

    # -- model repository (ADMIN_TOKEN) ---------------------------------------------------------------
    @_rpc(needs_key=False)
    def RepositoryIndex(self, request, context, tags):  # noqa: N802
        self.require_admin(context)
        entries = self.core.repository_index(request.ready)
        return pb.RepositoryIndexResponse(models=[pb.RepositoryIndexResponse.ModelIndex(**e) for e in entries])

    @_rpc(needs_key=False)
    def RepositoryModelLoad(self, request, context, tags):  # noqa: N802
        self.require_admin(context)
        version = None
        if "version" in request.parameters:
            parameter = request.parameters["version"]
            version = getattr(parameter, parameter.WhichOneof("parameter_choice") or "string_param")
        loaded = self.core.load(request.model_name, version)
        tags.update(model=loaded.name, version=loaded.version)
        return pb.RepositoryModelLoadResponse()

    @_rpc(needs_key=False)
    def RepositoryModelUnload(self, request, context, tags):  # noqa: N802
        self.require_admin(context)
        self.core.unload(request.model_name)
        return pb.RepositoryModelUnloadResponse()
