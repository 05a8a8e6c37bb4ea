"""The open inference protocol over gRPC: the servicer (protobuf in and out of the data plane) and its server."""
