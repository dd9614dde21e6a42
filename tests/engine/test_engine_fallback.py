"""Unsupported ops fail at Engine() naming the node; fallback="reference" runs them in
onnx.reference, opt-in and reported per node."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine
from sparse_runtime.errors import UnsupportedOpError


def _model():
    # GridSample is not implemented by us (see docs/operators.md); Relu around it is.
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"),
             h.make_node("GridSample", ["r", "grid"], ["g"], name="sampler", mode="linear"),
             h.make_node("Relu", ["g"], ["y"], name="relu_out")]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 4, 4]),
                                  h.make_tensor_value_info("grid", T.FLOAT, [1, 3, 3, 2])],
                     [h.make_tensor_value_info("y", T.FLOAT, [1, 1, 3, 3])])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 20)])


def test_unsupported_op_fails_at_compile_time_naming_the_node():
    with pytest.raises(UnsupportedOpError, match=r"node 'sampler' \(GridSample\)"):
        Engine(_model())


def test_reference_fallback_runs_and_is_reported():
    model = _model()
    eng = Engine(model, fallback="reference")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
    grid = rng.uniform(-1, 1, (1, 3, 3, 2)).astype(np.float32)
    (y,) = eng.run([x, grid])
    (want,) = ReferenceEvaluator(model).run(None, {"x": x, "grid": grid})
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)
    assert eng.fallback_nodes == [{"name": "sampler", "op": "GridSample", "domain": ""}]
    rows = [r for r in eng.report() if r.get("fallback")]
    assert [(r["name"], r["kernel"]) for r in rows] == [("sampler", "onnx.reference")]
    assert "onnx.reference" in eng.summary()


def test_fallback_is_off_by_default_and_validated():
    eng = Engine(h.make_model(h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
                                           [h.make_tensor_value_info("x", T.FLOAT, [2])],
                                           [h.make_tensor_value_info("y", T.FLOAT, [2])]),
                              opset_imports=[h.make_opsetid("", 17)]))
    assert eng.fallback is None and eng.fallback_nodes == []
    with pytest.raises(ValueError, match="fallback"):
        Engine(_model(), fallback="onnxruntime")
