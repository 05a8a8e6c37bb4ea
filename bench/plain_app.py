"""The reference: a plain ~30-line Flask + onnxruntime app, as a tutorial would write it. Run with 2 sync workers.

JSON pixels to the MLP, and an uploaded image decoded, resized to 28x28, inverted and sent to the CNN.
No validation, metrics or logs: what digit-serve must beat while doing all of those.

Tuned as anyone who times it would tune it: one onnxruntime intra-op thread per session (INTRA_OP_THREADS,
default 1). onnxruntime's default (0: a pool of one spinning thread per core in every worker) makes 2 workers
on 2 cores fight over them: 1,650 against about 3,000 req/s here. `make bench` runs both and compares
digit-serve with whichever is faster.
"""

import io
import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # onnxruntime >= 1.29 phones home (docs/operations.md)

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from PIL import Image, ImageOps

MODELS = os.environ.get("MODEL_DIR", "models")
app = Flask(__name__)
options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("INTRA_OP_THREADS", "1"))
sessions = {
    name: ort.InferenceSession(f"{MODELS}/{name}/1/model.onnx", options, providers=["CPUExecutionProvider"])
    for name in ("mlp", "cnn")
}


def answer(probabilities: np.ndarray):
    return jsonify(predictions=[{"label": int(p.argmax()), "confidence": float(p.max())} for p in probabilities])


@app.post("/predict")
def predict():
    if request.mimetype.startswith("image/"):
        image = ImageOps.invert(Image.open(io.BytesIO(request.get_data())).convert("L")).resize((28, 28))
        pixels = (np.asarray(image, dtype=np.float32) / 255.0).reshape(1, 28, 28, 1)
        return answer(sessions["cnn"].run(None, {"pixels": pixels})[0])
    data = request.get_json()
    pixels = np.array(data["inputs"], dtype=np.float32)
    return answer(sessions[data.get("model", "mlp")].run(None, {"pixels": pixels})[0])


@app.get("/healthz")
def healthz():
    return "ok"
