"""The decomposed LayerNorm torch/tf2onnx export becomes one FusedLayerNorm node, values unchanged;
near-misses (another reader of an intermediate, a non-last axis) stay as they are."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine


def _ln_model(opset=13, affine=True, extra_reader=False, axis=-1, square="Pow"):
    c = lambda n, v: numpy_helper.from_array(np.asarray(v, np.float32), n)
    rm = (lambda i, o: helper.make_node("ReduceMean", [i, "axes"], [o])) if opset >= 18 else \
         (lambda i, o: helper.make_node("ReduceMean", [i], [o], axes=[axis]))
    nodes = [rm("x", "m"), helper.make_node("Sub", ["x", "m"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["p"]) if square == "Pow" else helper.make_node("Mul", ["d", "d"], ["p"]),
             rm("p", "v"), helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"]),
             helper.make_node("Div", ["d", "s"], ["n"])]
    inits = [c("two", 2.0), c("eps", 1e-12)]
    out = "n"
    if affine:
        nodes += [helper.make_node("Mul", ["n", "gamma"], ["g"]), helper.make_node("Add", ["g", "beta"], ["y"])]
        rng = np.random.default_rng(0)
        inits += [c("gamma", rng.standard_normal(24)), c("beta", rng.standard_normal(24))]
        out = "y"
    outputs = [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, None))
    if opset >= 18:
        inits.append(numpy_helper.from_array(np.array([axis], np.int64), "axes"))
    graph = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 24])],
                              outputs, initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model):
    x = (np.random.default_rng(1).standard_normal((2, 5, 24)) * 2 + 3).astype(np.float32)
    eng = Engine(model)
    got, want = eng.run([x]), ReferenceEvaluator(model).run(None, {"x": x})
    for a, b in zip(got, want):
        assert a.dtype == np.float32 and a.shape == b.shape
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(b).max())
    return [n.op_type for n in eng.graph.nodes]


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("square", ["Pow", "Mul"])
def test_decomposed_layernorm_is_fused(opset, affine, square):
    assert _run(_ln_model(opset, affine, square=square)) == ["FusedLayerNorm"]


def test_shared_intermediate_is_not_fused():
    assert "FusedLayerNorm" not in _run(_ln_model(extra_reader=True))


def test_other_axis_is_not_fused():
    assert "FusedLayerNorm" not in _run(_ln_model(axis=1))
