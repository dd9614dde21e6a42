"""GELU as the exporters decompose it moves into the packed kernel's epilogue: the erf form with
Div by √2 or Mul by 1/√2, the three-way product x·0.5·(1+erf) in each order the TorchScript and
dynamo exporters write, and the tanh form with x³ as Pow or as two Muls. Near misses stay."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine

RNG = np.random.default_rng(3)
M = helper.make_node


def _c(name, v):
    return numpy_helper.from_array(np.asarray(v, np.float32), name)


def _core(kind):
    """Nodes from h to a = 1 + erf(...) / 1 + tanh(...), and their constants."""
    if kind == "erf_div":
        return [M("Div", ["h", "k"], ["d"]), M("Erf", ["d"], ["e"]), M("Add", ["e", "one"], ["a"])], \
            [_c("k", np.sqrt(2.0))]
    if kind == "erf_mul":
        return [M("Mul", ["k", "h"], ["d"]), M("Erf", ["d"], ["e"]), M("Add", ["one", "e"], ["a"])], \
            [_c("k", np.sqrt(0.5))]
    cube = ([M("Pow", ["h", "three"], ["c3"])] if kind == "tanh_pow" else
            [M("Mul", ["h", "h"], ["sq"]), M("Mul", ["h", "sq"], ["c3"])])
    return cube + [M("Mul", ["coef", "c3"], ["t0"]), M("Add", ["h", "t0"], ["t1"]),
                   M("Mul", ["s2pi", "t1"], ["t2"]), M("Tanh", ["t2"], ["t3"]), M("Add", ["t3", "one"], ["a"])], \
        [_c("three", 3.0), _c("coef", 0.044715), _c("s2pi", np.sqrt(2 / np.pi))]


_PRODUCTS = {
    "x_first": [M("Mul", ["h", "a"], ["m"]), M("Mul", ["m", "half"], ["y"])],      # TorchScript
    "half_first": [M("Mul", ["h", "half"], ["m"]), M("Mul", ["m", "a"], ["y"])],
    "dynamo": [M("Mul", ["half", "a"], ["m"]), M("Mul", ["h", "m"], ["y"])],        # dynamo exporter
}


def _model(kind, order, half=0.5, extra_output=None):
    w = RNG.standard_normal((32, 48)).astype(np.float32)
    w[RNG.random(w.shape) > 0.2] = 0
    b = RNG.standard_normal(48).astype(np.float32)
    core, inits = _core(kind)
    nodes = [M("MatMul", ["x", "w"], ["h0"]), M("Add", ["h0", "b"], ["h"])] + core + _PRODUCTS[order]
    inits += [_c("w", w), _c("b", b), _c("one", 1.0), _c("half", half)]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_output:
        outs.append(helper.make_tensor_value_info(extra_output, TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 32])], outs,
                          initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _run(model):
    x = RNG.standard_normal((5, 32)).astype(np.float32)
    eng = Engine(model)
    got, want = eng.run([x]), ReferenceEvaluator(model).run(None, {"x": x})
    for a, e in zip(got, want):
        assert a.dtype == np.float32 and a.shape == e.shape
        assert np.abs(a - e).max() <= 1e-4 * max(1.0, float(np.abs(e).max()))
    return eng


@pytest.mark.parametrize("kind", ["erf_div", "erf_mul", "tanh_pow", "tanh_mul"])
@pytest.mark.parametrize("order", sorted(_PRODUCTS))
def test_decomposed_gelu_is_fused(kind, order):
    eng = _run(_model(kind, order))
    assert [n.op_type for n in eng.graph.nodes] == ["PackedMatMul"]
    (row,) = eng.report()
    assert row["activation"] == ("gelu_erf" if kind.startswith("erf") else "gelu_tanh") and row["bias"]


@pytest.mark.parametrize("kind", ["erf_div", "tanh_mul"])
def test_near_misses_stay(kind):
    # A different constant is not GELU.
    eng = _run(_model(kind, "dynamo", half=0.6))
    assert eng.report()[0]["activation"] == "none"
    # An intermediate that is also a graph output must survive.
    eng = _run(_model(kind, "x_first", extra_output="a"))
    assert eng.report()[0]["activation"] == "none"
    assert ("Erf" if kind.startswith("erf") else "Tanh") in [n.op_type for n in eng.graph.nodes]
