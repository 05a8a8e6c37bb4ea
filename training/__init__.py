"""Training side: trains the MLP, CNN and linear regressor and publishes them as ONNX. Never imported by service/."""

import os

# Export verification runs onnxruntime (tf2onnx imports it too): its telemetry is off unless a user says otherwise.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
