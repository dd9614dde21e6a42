"""The onnx.backend API surface of sparse_runtime.backend."""
import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from sparse_runtime import backend
from sparse_runtime.backend import SparseRuntimeBackend
from sparse_runtime.errors import UnsupportedOpError


def _add_model():
    g = h.make_graph([h.make_node("Add", ["a", "b"], ["c"])], "g",
                     [h.make_tensor_value_info("a", T.FLOAT, [2, 3]), h.make_tensor_value_info("b", T.FLOAT, [2, 3])],
                     [h.make_tensor_value_info("c", T.FLOAT, [2, 3])])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_supports_cpu_only():
    assert SparseRuntimeBackend.supports_device("CPU")
    assert not SparseRuntimeBackend.supports_device("CUDA")
    assert not SparseRuntimeBackend.supports_device("TPU")
    with pytest.raises(RuntimeError, match="CPU only"):
        SparseRuntimeBackend.prepare(_add_model(), "CUDA")


def test_prepare_and_run_list_dict_and_names():
    a, b = np.ones((2, 3), np.float32), np.arange(6, dtype=np.float32).reshape(2, 3)
    rep = backend.prepare(_add_model())
    out = rep.run([a, b])
    np.testing.assert_array_equal(out[0], a + b)
    np.testing.assert_array_equal(out["c"], a + b)
    np.testing.assert_array_equal(rep.run({"a": a, "b": b}).c, a + b)
    np.testing.assert_array_equal(backend.run_model(_add_model(), [a, b.T.copy().T])[0], a + b)  # any layout


def test_run_node():
    x = np.array([[-1.0, 2.0]], np.float32)
    (y,) = backend.run_node(h.make_node("Relu", ["x"], ["y"]), [x])
    np.testing.assert_array_equal(y, [[0.0, 2.0]])


def test_prepare_passes_engine_options():
    node = h.make_node("GridSample", ["x", "g"], ["y"])
    x, grid = np.ones((1, 1, 2, 2), np.float32), np.zeros((1, 1, 1, 2), np.float32)
    with pytest.raises(UnsupportedOpError, match="GridSample"):
        backend.run_node(node, [x, grid])
    (y,) = backend.run_node(node, [x, grid], fallback="reference")
    assert y.shape == (1, 1, 1, 1)
