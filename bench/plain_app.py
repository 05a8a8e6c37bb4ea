"""The reference: a plain ~30-line Flask + onnxruntime app, as a tutorial would write it. Run with 2 sync workers.

JSON pixels to the MLP, and an uploaded image decoded, resized to 28x28, inverted and sent to the CNN.
No validation, metrics or logs: what digit-serve must beat while doing all of those.
"""

import io
import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # onnxruntime >= 1.29 phones home otherwise (README: Privacy)

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from PIL import Image, ImageOps

MODELS = os.environ.get("MODEL_DIR", "models")
app = Flask(__name__)
sessions = {
    name: ort.InferenceSession(f"{MODELS}/{name}/1/model.onnx", providers=["CPUExecutionProvider"])
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
