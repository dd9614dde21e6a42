"""Small helpers for the pass tests (models built with onnx.helper)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime.loader import load_model
from sparse_runtime.passes import PassContext


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, "test", inputs, outputs, list(inits))
    return h.make_model(g, opset_imports=[h.make_opsetid("", opset)])


def tensor(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def vi(name, shape, dtype=T.FLOAT):
    return h.make_tensor_value_info(name, dtype, shape)


def const(name, arr):
    return h.make_node("Constant", [], [name], name=f"const_{name}", value=tensor(f"{name}_v", arr))


def load(m, **kw):
    return load_model(m, **kw)


def ctx(**kw):
    return PassContext(opset=17, **kw)


def ops(graph):
    return [n.op_type for n in graph.nodes]


def reference(m, feeds):
    return ReferenceEvaluator(m).run(None, feeds)


def torch_reshape_chain(shape):
    """y = Relu(Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])))  (torch flatten export)."""
    nodes = [h.make_node("Shape", ["x"], ["s"], name="shape"),
             const("i0", np.array(0, np.int64)),
             h.make_node("Gather", ["s", "i0"], ["d0"], name="gather", axis=0),
             const("ax", np.array([0], np.int64)),
             h.make_node("Unsqueeze", ["d0", "ax"], ["d0u"], name="unsq"),
             const("m1", np.array([-1], np.int64)),
             h.make_node("Concat", ["d0u", "m1"], ["newshape"], name="concat", axis=0),
             h.make_node("Reshape", ["x", "newshape"], ["flat"], name="reshape"),
             h.make_node("Relu", ["flat"], ["y"], name="relu")]
    return model(nodes, [vi("x", shape)], [vi("y", None)])


def assert_matches(got, expected, rtol=1e-5, atol=1e-6):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape, (g.dtype, g.shape, e.dtype, e.shape)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
