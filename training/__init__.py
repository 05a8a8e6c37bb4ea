"""Training side: trains the MLP, CNN and linear regressor and publishes them as ONNX. Never imported by service/."""
