"""Small ONNX models and calibration data for the pruning tests (built with onnx.helper; no torch)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OPSET = 17


def rnd(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def hetero_inputs(rows, k, seed=0):
    """Correlated features with very different scales (log-normal), like real activations: the
    setting where activation-aware pruning should beat plain magnitude."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((k, k)) / np.sqrt(k) + np.eye(k)
    scale = np.exp(0.5 * rng.standard_normal(k))
    return ((rng.standard_normal((rows, k)) @ mix) * scale).astype(np.float32)


def _model(nodes, inits, x_shape, y_shape, name):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def mlp_model(k=32, h=64, h2=48, out=10, seed=0):
    """x[N, k] -> MatMul+Add -> Relu -> Gemm(transB) -> Relu -> Gemm (classifier) -> y."""
    inits = {"w1": rnd((k, h), seed, 1 / np.sqrt(k)), "b1": rnd((h,), seed + 1, 0.1),
             "w2": rnd((h2, h), seed + 2, 1 / np.sqrt(h)), "b2": rnd((h2,), seed + 3, 0.1),
             "w3": rnd((h2, out), seed + 4, 1 / np.sqrt(h2)), "b3": rnd((out,), seed + 5, 0.1)}
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"], name="fc1/MatMul"),
             helper.make_node("Add", ["m1", "b1"], ["a1"], name="fc1/Add"),
             helper.make_node("Relu", ["a1"], ["r1"], name="act1"),
             helper.make_node("Gemm", ["r1", "w2", "b2"], ["g2"], name="fc2/Gemm", transB=1),
             helper.make_node("Relu", ["g2"], ["r2"], name="act2"),
             helper.make_node("Gemm", ["r2", "w3", "b3"], ["y"], name="head/Gemm")]
    return _model(nodes, inits, ["n", k], ["n", out], "mlp")


def cnn_model(seed=0, c1=8, c2=16, c3=16, out=10):
    """x[N, 1, 8, 8] -> Conv 3x3 -> Relu -> Conv 3x3 s2 -> Relu -> Conv 3x3 dil -> Relu -> Flatten -> Gemm."""
    inits = {"cw1": rnd((c1, 1, 3, 3), seed, 0.5), "cb1": rnd((c1,), seed + 1, 0.1),
             "cw2": rnd((c2, c1, 3, 3), seed + 2, 1 / np.sqrt(9 * c1)), "cb2": rnd((c2,), seed + 3, 0.1),
             "cw3": rnd((c3, c2, 3, 3), seed + 4, 1 / np.sqrt(9 * c2)),
             "fw": rnd((out, c3 * 16), seed + 5, 1 / np.sqrt(c3 * 16)), "fb": rnd((out,), seed + 6, 0.1)}
    nodes = [helper.make_node("Conv", ["x", "cw1", "cb1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "cw2", "cb2"], ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Conv", ["r2", "cw3"], ["c3"], name="conv3", pads=[2, 2, 2, 2], dilations=[2, 2]),
             helper.make_node("Relu", ["c3"], ["r3"]),
             helper.make_node("Flatten", ["r3"], ["f"]),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="head", transB=1)]
    return _model(nodes, inits, ["n", 1, 8, 8], ["n", out], "cnn")


def weights(model) -> dict:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def ort_run(model, x):
    ort = __import__("pytest").importorskip("onnxruntime")
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
