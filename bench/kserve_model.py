"""KServe's Python model server on the MLP's ONNX file, V2 protocol: the peer in `make bench PEERS=1`.

Runs in KServe's own virtual environment (bench/peers.py makes it), never in the project's. Written as
KServe's documentation writes a custom predictor: a Model whose predict runs onnxruntime.
"""

import os
import sys

import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class OnnxModel(Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.session = None
        self.ready = True  # the session is made in each worker process on first use: it cannot be pickled

    def __getstate__(self) -> dict:
        return {**self.__dict__, "session": None}

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        if self.session is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            self.session = ort.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        pixels = payload.inputs[0].as_numpy()
        probabilities = self.session.run(None, {"pixels": pixels})[0]
        output = InferOutput("probabilities", list(probabilities.shape), "FP32", probabilities)
        return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=[output])


if __name__ == "__main__":
    port, workers, logging_on = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "on"
    model = OnnxModel("mlp", os.path.join(sys.argv[4], "mlp", "1", "model.onnx"))
    ModelServer(
        http_port=port,
        workers=workers,
        enable_grpc=False,
        enable_latency_logging=logging_on,
        access_log_format=None if logging_on else "",
    ).start([model])
