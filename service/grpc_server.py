"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`) on GRPC_PORT, beside the HTTP service.

    python -m service.grpc_server      (gunicorn.conf.py starts it with the HTTP server when GRPC_PORT > 0)

One process with a bounded thread pool. It holds the same models through the same registry and the same
serving state as the HTTP workers (a load or unload through either API reaches the other), runs them
through the same data plane, validates with the same rules and messages (service/protocol.py), writes
the same JSON access lines and Prometheus metrics (into the directory the HTTP /metrics aggregates), and
serves the gRPC health-checking protocol and server reflection. SIGTERM: health turns NOT_SERVING, then
in-flight calls finish within the grace period.
"""

from __future__ import annotations

# The service package, imported before this module, turns onnxruntime's telemetry off (docs/operations.md).
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent import futures
from functools import wraps

import grpc
import numpy as np
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service import observability, protocol
from service.dataplane import DataPlane
from service.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    ModelLoadError,
    ModelNotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    Unauthorized,
)
from service.model import ModelVersion
from service.protocol_core import ProtocolCore
from service.protos import grpc_predict_v2_pb2 as pb
from service.protos import grpc_predict_v2_pb2_grpc as pb_grpc
from service.registry import ModelRegistry, registry_from_settings
from service.security import key_from, key_matches, parse_list, require_admin
from service.settings import Settings

log = logging.getLogger("service.grpc")
SERVICE_NAME = "inference.GRPCInferenceService"
STATUS = {
    BadRequest: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    ModelLoadError: grpc.StatusCode.INVALID_ARGUMENT,
    ModelNotFound: grpc.StatusCode.NOT_FOUND,
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    Forbidden: grpc.StatusCode.PERMISSION_DENIED,
    PayloadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ServiceUnavailable: grpc.StatusCode.UNAVAILABLE,
}
CONTENTS = {
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
}


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
                code = STATUS.get(type(exc), grpc.StatusCode.INVALID_ARGUMENT)
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
    def __init__(self, settings: Settings, registry: ModelRegistry, dataplane: DataPlane) -> None:
        self.settings = settings
        self.registry = registry
        self.core = ProtocolCore(settings, registry, dataplane)
        self.api_keys = parse_list(settings.api_keys)

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
        inputs = self._inputs(request, model)
        tensors = self.core.infer(model, inputs, [output.name for output in request.outputs])
        tags.update(model=model.name, version=model.version, instances=len(next(iter(inputs.values()))))
        response = pb.ModelInferResponse(model_name=model.name, model_version=str(model.version), id=request.id)
        for tensor in tensors:
            response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
            response.raw_output_contents.append(tensor.values.tobytes())
        return response

    @staticmethod
    def _inputs(request, model: ModelVersion) -> dict[str, np.ndarray]:
        """The request's tensors as checked arrays: the same rules and messages as the HTTP protocol."""
        raw = list(request.raw_input_contents)
        if raw and len(raw) != len(request.inputs):
            raise BadRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; send one per input")
        arrays: dict[str, np.ndarray] = {}
        for index, tensor in enumerate(request.inputs):
            if raw and tensor.contents.ListFields():  # the proto: contents must not be given with raw contents
                raise BadRequest(
                    f"input '{tensor.name}': give its values in contents or in raw_input_contents, not both"
                )
            spec = protocol.input_spec(model, tensor.name, tensor.datatype, arrays)
            shape = list(tensor.shape)
            protocol.check_shape(spec, shape)
            if raw:
                arrays[tensor.name] = protocol.array_from_bytes(spec, raw[index], shape)
            else:
                values = list(getattr(tensor.contents, CONTENTS.get(spec.datatype, "fp32_contents")))
                arrays[tensor.name] = protocol.array_from_values(
                    spec, {"data": values, "datatype": tensor.datatype}, shape
                )
        protocol.check_complete(model, arrays)
        return arrays

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


def build_server(settings: Settings, registry: ModelRegistry) -> tuple[grpc.Server, health.HealthServicer, int]:
    """The gRPC server bound to HOST:GRPC_PORT (not started); returns it, its health servicer and the port."""
    limit = settings.max_body_bytes
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_threads),
        maximum_concurrent_rpcs=settings.grpc_threads + settings.max_queue,
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 1),  # GRPC_WORKERS processes share the port; the kernel spreads connections
        ],
    )
    servicer = InferenceServicer(settings, registry, DataPlane(settings.max_instances, settings.batch_policies))
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    port = server.add_insecure_port(f"{host}:{settings.grpc_port}")
    if port == 0:
        raise SystemExit(f"digit-serve gRPC: cannot listen on {host}:{settings.grpc_port}")
    status = health_pb2.HealthCheckResponse.SERVING if servicer.ready() else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, status)
    return server, health_servicer, port


def main() -> int:
    settings = Settings.from_env()
    observability.configure_logging(settings.log_level)
    registry = registry_from_settings(settings)
    registry.load_all()
    server, health_servicer, port = build_server(settings, registry)
    stopping = threading.Event()

    def stop(signum, _frame) -> None:
        if stopping.is_set():
            return
        stopping.set()
        health_servicer.enter_graceful_shutdown()  # health answers NOT_SERVING from now on
        log.info("gRPC server stopping (signal %d): finishing calls in flight", signum)
        server.stop(grace=20)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    log.info(
        "gRPC listening on %s:%d (%s)",
        settings.host,
        port,
        ", ".join(f"{name} v{registry.get(name).version}" for name in registry.names()),
    )
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
