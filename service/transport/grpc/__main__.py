"""python -m service.transport.grpc: the gRPC server (service/transport/grpc/server.py)."""

from service.transport.grpc.server import main

raise SystemExit(main())
