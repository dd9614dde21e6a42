"""Helpers for op tests: build one ONNX node + the equivalent IR node from the same arguments,
run our kernel and onnx.reference.ReferenceEvaluator, and compare values, shapes and dtypes."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime.ir import Graph, Node
from sparse_runtime.ops import OpContext, compile_node
from sparse_runtime.ops.attributes import decode_attributes

_TOL = {
    np.dtype(np.float16): (1e-3, 1e-3),
    np.dtype(np.float32): (1e-5, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),  # the reference computes some ops in float32,
}


def _elem_type(a: np.ndarray) -> int:
    if a.dtype == object:
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(a.dtype)


def build(op_type, inputs, attrs=None, n_outputs=1, opset=17, name="n0"):
    """-> (onnx ModelProto, IR Node, feeds). ``inputs``: arrays, None for an omitted input."""
    attrs = attrs or {}
    in_names = ["" if x is None else f"in{i}" for i, x in enumerate(inputs)]
    out_names = [f"out{i}" for i in range(n_outputs)]
    onode = helper.make_node(op_type, in_names, out_names, name=name, **attrs)
    g_inputs = [helper.make_tensor_value_info(n, _elem_type(x), x.shape)
                for n, x in zip(in_names, inputs) if x is not None]
    g_outputs = [helper.make_value_info(n, onnx.TypeProto()) for n in out_names]
    graph = helper.make_graph([onode], "g", g_inputs, g_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    ir_node = Node(op_type, in_names, out_names, name=name, attrs=decode_attributes(onode.attribute))
    feeds = {n: x for n, x in zip(in_names, inputs) if x is not None}
    return model, ir_node, feeds


def run_ours(op_type, inputs, attrs=None, n_outputs=1, opset=17, consts=()):
    """Compile and run our kernel. ``consts``: input indices also offered as graph constants."""
    _, node, _ = build(op_type, inputs, attrs, n_outputs, opset)
    graph = Graph(initializers={node.inputs[i]: inputs[i] for i in consts}, opsets={"": opset})
    kernel = compile_node(node, OpContext(opset=opset, graph=graph))
    return kernel(list(inputs))


def run_ref(op_type, inputs, attrs=None, n_outputs=1, opset=17, ref="onnx"):
    """Reference outputs: onnx.reference (default) or onnxruntime (``ref="ort"``) where the
    reference evaluator is known to be wrong or to lack the feature."""
    model, _, feeds = build(op_type, inputs, attrs, n_outputs, opset)
    if ref == "ort":
        import onnxruntime

        sess = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)
    return ReferenceEvaluator(model).run(None, feeds)


def compare(got, want, rtol=None, atol=None, check_dtype=True):
    assert len(got) >= len(want) or len(got) == len(want), (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        assert isinstance(g, np.ndarray), f"output {i}: {type(g)} is not an ndarray"
        assert g.shape == w.shape, f"output {i}: shape {g.shape} != reference {w.shape}"
        if check_dtype:
            assert g.dtype == w.dtype, f"output {i}: dtype {g.dtype} != reference {w.dtype}"
        if g.dtype == object or g.dtype.kind in "biuU":
            np.testing.assert_array_equal(g, w, err_msg=f"output {i}")
        else:
            r, a = _TOL.get(g.dtype, (1e-5, 1e-5))
            scale = max(1.0, float(np.max(np.abs(w[np.isfinite(w)]))) if w.size and np.isfinite(w).any() else 1.0)
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                       rtol=rtol if rtol is not None else r,
                                       atol=(atol if atol is not None else a) * scale,
                                       equal_nan=True, err_msg=f"output {i}")


def check(op_type, inputs, attrs=None, n_outputs=1, opset=17, consts=(), rtol=None, atol=None,
          check_dtype=True, dtypes=None, ref="onnx"):
    """Run ours and the reference, compare. ``dtypes`` overrides expected output dtypes when the
    reference evaluator is known to deviate from the ONNX spec. Returns our outputs."""
    got = run_ours(op_type, inputs, attrs, n_outputs, opset, consts)
    want = run_ref(op_type, inputs, attrs, n_outputs, opset, ref)
    if dtypes is not None:
        want = [np.asarray(w).astype(d) for w, d in zip(want, dtypes)]
    compare(got, want, rtol, atol, check_dtype)
    return got


def rand(shape, dtype=np.float32, seed=0, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(int(low), int(high) + 1, size=shape).astype(dtype)
    if np.dtype(dtype) == np.bool_:
        return rng.random(shape) > 0.5
    return rng.uniform(low, high, size=shape).astype(dtype)
