"""Releasing: a trained model to ONNX checked against Keras (export), its card's figures (report), and a new
version written whole into the model repository (publish)."""
