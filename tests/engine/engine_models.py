"""Small ONNX models built with onnx.helper for the engine/loader tests."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

RNG = np.random.default_rng(0)

def model(nodes, inputs, outputs, inits=(), opset=17, ir=None, extra_opsets=(), **graph_kw):
    g = h.make_graph(nodes, "test", inputs, outputs, list(inits), **graph_kw)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)] + list(extra_opsets))
    if ir is not None:
        m.ir_version = ir
    return m

def tensor(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)

def vi(name, shape, dtype=T.FLOAT):
    return h.make_tensor_value_info(name, dtype, shape)

def mlp(batch="N", k=4, n=3):
    """y = relu(x @ w + b); z = y * 2  (two outputs)."""
    w = RNG.standard_normal((k, n)).astype(np.float32)
    b = RNG.standard_normal(n).astype(np.float32)
    nodes = [h.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
             h.make_node("Add", ["xw", "b"], ["pre"], name="add"),
             h.make_node("Relu", ["pre"], ["y"], name="relu"),
             h.make_node("Mul", ["y", "two"], ["z"], name="mul")]
    return model(nodes, [vi("x", [batch, k])], [vi("y", [batch, n]), vi("z", [batch, n])],
                 [tensor("w", w), tensor("b", b), tensor("two", np.float32(2.0))])

def two_inputs():
    """out = a + b * c with c a constant; inputs 'input_ids' (float) and 'mask'."""
    nodes = [h.make_node("Mul", ["mask", "c"], ["mc"], name="mul"),
             h.make_node("Add", ["input_ids", "mc"], ["out"], name="add")]
    return model(nodes, [vi("input_ids", ["N", 5]), vi("mask", ["N", 5])], [vi("out", ["N", 5])],
                 [tensor("c", np.full(5, 3.0, np.float32))])

def torch_reshape_chain(batch=2, static=True):
    """Torch-export style flatten: y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))."""
    shape = [batch, 3, 4] if static else ["N", 3, 4]
    nodes = [h.make_node("Shape", ["x"], ["s"], name="shape"),
             h.make_node("Constant", [], ["i0"], name="c0", value=tensor("i0v", np.array(0, np.int64))),
             h.make_node("Gather", ["s", "i0"], ["d0"], name="gather", axis=0),
             h.make_node("Constant", [], ["ax"], name="c1", value=tensor("axv", np.array([0], np.int64))),
             h.make_node("Unsqueeze", ["d0", "ax"], ["d0u"], name="unsq"),
             h.make_node("Constant", [], ["m1"], name="c2", value=tensor("m1v", np.array([-1], np.int64))),
             h.make_node("Concat", ["d0u", "m1"], ["newshape"], name="concat", axis=0),
             h.make_node("Reshape", ["x", "newshape"], ["flat"], name="reshape"),
             h.make_node("Relu", ["flat"], ["y"], name="relu")]
    return model(nodes, [vi("x", shape)], [vi("y", None)])

def reference(m, feeds: dict) -> list:
    return ReferenceEvaluator(m).run(None, feeds)

def assert_matches(got, expected, rtol=1e-5, atol=1e-6):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert isinstance(g, np.ndarray)
        assert g.dtype == e.dtype, (g.dtype, e.dtype)
        assert g.shape == e.shape, (g.shape, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
