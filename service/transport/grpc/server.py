"""The Open Inference Protocol over gRPC on GRPC_PORT, beside the HTTP service: one process of a bounded pool.

    python -m service.transport.grpc      (gunicorn.conf.py starts GRPC_WORKERS of these when GRPC_PORT > 0)

It builds the same runtime as the HTTP workers (service/bootstrap.py): the same registry and serving state
(a load or unload through either API reaches the other), the same data plane and the same rules; it writes
the same JSON access lines and Prometheus metrics (into the directory the HTTP /metrics aggregates), and
serves the gRPC health-checking protocol and server reflection. SIGTERM: health turns NOT_SERVING, then
in-flight calls finish within the grace period.
"""

from __future__ import annotations

# The service package, imported before this module, turns onnxruntime's telemetry off (docs/operations.md).
import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service import observability
from service.bootstrap import Runtime, build_runtime
from service.settings import Settings
from service.transport.grpc.protos import grpc_predict_v2_pb2_grpc as pb_grpc
from service.transport.grpc.servicer import InferenceServicer

log = logging.getLogger("service.grpc")
SERVICE_NAME = "inference.GRPCInferenceService"


def build_server(runtime: Runtime) -> tuple[grpc.Server, health.HealthServicer, int]:
    """The gRPC server bound to HOST:GRPC_PORT (not started); returns it, its health servicer and the port."""
    settings = runtime.settings
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
    servicer = InferenceServicer(runtime)
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
    runtime = build_runtime(settings, poll=False)  # the HTTP workers poll; a load they make reaches this one
    registry = runtime.registry
    server, health_servicer, port = build_server(runtime)
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
