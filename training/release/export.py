"""Export trained models to ONNX and prove each export matches the model it came from.

Keras 3 models cannot go through `tf2onnx.convert.from_keras`; a `tf.function` with an explicit
input signature (batch dimension None) through `tf2onnx.convert.from_function` can. The graph's
tensors are then renamed to stable names the service relies on: input `pixels`, output
`probabilities`, batch dimension `batch`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 17
BATCH_DIM = "batch"
CLASSIFIER_INPUT = "pixels"
CLASSIFIER_OUTPUT = "probabilities"
LINEAR_INPUT = "x"
LINEAR_OUTPUT = "y"


class ExportMismatch(Exception):
    """The ONNX export does not reproduce the trained model."""


def _name_batch_dimension(value_infos) -> None:
    for value in value_infos:
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_DIM


def _rename_output(graph: onnx.GraphProto, new_name: str) -> None:
    old_name = graph.output[0].name
    for node in graph.node:
        node.output[:] = [new_name if name == old_name else name for name in node.output]
        node.input[:] = [new_name if name == old_name else name for name in node.input]
    graph.output[0].name = new_name


def export_keras(model, doc: str) -> onnx.ModelProto:
    """A Keras classifier as an ONNX model: float32 `pixels` [batch, ...] -> `probabilities` [batch, 10]."""
    import tensorflow as tf
    import tf2onnx

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=CLASSIFIER_INPUT)
    function = tf.function(lambda pixels: model(pixels, training=False), input_signature=[spec])
    proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=OPSET)
    _rename_output(proto.graph, CLASSIFIER_OUTPUT)
    _name_batch_dimension(proto.graph.input)
    _name_batch_dimension(proto.graph.output)
    proto.doc_string = doc
    proto.graph.name = model.name
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_linear(w: float, b: float, doc: str) -> onnx.ModelProto:
    """y = w*x + b as a two-node ONNX graph: float32 `x` [batch, 1] -> `y` [batch, 1]."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1], [w])
    bias = helper.make_tensor("b", TensorProto.FLOAT, [1], [b])
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [LINEAR_INPUT, "w"], ["wx"]),
            helper.make_node("Add", ["wx", "b"], [LINEAR_OUTPUT]),
        ],
        "linear",
        [helper.make_tensor_value_info(LINEAR_INPUT, TensorProto.FLOAT, [BATCH_DIM, 1])],
        [helper.make_tensor_value_info(LINEAR_OUTPUT, TensorProto.FLOAT, [BATCH_DIM, 1])],
        initializer=[weight, bias],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="digit-serve")
    proto.doc_string = doc
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run_onnx(proto: onnx.ModelProto, inputs: np.ndarray) -> np.ndarray:
    """Run an in-memory ONNX model on CPU with onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def verify_parity(
    proto: onnx.ModelProto, inputs: np.ndarray, expected: np.ndarray, tolerance: float = 1e-5, classifier: bool = True
) -> float:
    """Max absolute difference between ONNX and reference outputs; raise when over tolerance."""
    actual = run_onnx(proto, inputs)
    if actual.shape != expected.shape:
        raise ExportMismatch(f"ONNX output shape {actual.shape} differs from the model's {expected.shape}")
    max_diff = float(np.max(np.abs(actual - expected)))
    if max_diff > tolerance:
        raise ExportMismatch(f"ONNX output differs from the model by {max_diff:.3g} (> {tolerance:g})")
    if classifier:
        disagree = int(np.sum(actual.argmax(axis=1) != expected.argmax(axis=1)))
        if disagree:
            raise ExportMismatch(f"ONNX and the model disagree on the class of {disagree} inputs")
    return max_diff
