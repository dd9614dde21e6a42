"""merge_sibling_matmuls: MatMuls of one input (Q, K, V) become one wider layer and a Split of
views; biases merge when every member has one; values match onnx.reference; near misses stay."""
import numpy as np
import pytest
from onnx import helper as h

from sparse_runtime import Engine
from pass_models import assert_matches, model, reference, tensor, vi

RNG = np.random.default_rng(21)


def _weight(n, sparsity=0.9):
    w = RNG.standard_normal((32, n)).astype(np.float32)
    w[RNG.random(w.shape) < sparsity] = 0
    return w


def _siblings(bias=(True, True, True), sparsity=(0.9, 0.9, 0.9), opset=17, output_matmul=False):
    nodes, inits, outs = [], [], []
    for i, (b, s) in enumerate(zip(bias, sparsity)):
        n = 16 + 8 * i
        inits.append(tensor(f"w{i}", _weight(n, s)))
        nodes.append(h.make_node("MatMul", ["x", f"w{i}"], [f"m{i}"]))
        if b:
            inits.append(tensor(f"b{i}", RNG.standard_normal(n).astype(np.float32)))
            nodes.append(h.make_node("Add", [f"b{i}", f"m{i}"] if i == 1 else [f"m{i}", f"b{i}"], [f"y{i}"]))
        nodes.append(h.make_node("Relu", [f"y{i}" if b else f"m{i}"], [f"r{i}"]))
        outs.append(vi(f"r{i}", None))
    if output_matmul:
        outs.append(vi("m0", None))
    return model(nodes, [vi("x", ["b", 7, 32])], outs, inits, opset=opset)


def _packed_shapes(eng):
    return sorted(tuple(r["weight_shape"]) for r in eng.report())


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("bias", [(True, True, True), (False, False, False), (True, False, True)], ids=str)
def test_siblings_merge(opset, bias):
    m = _siblings(bias=bias, opset=opset)
    eng = Engine(m)
    assert _packed_shapes(eng) == [(32, 72)]  # one layer: 16 + 24 + 32 outputs side by side
    assert [n.op_type for n in eng.graph.nodes].count("Split") == 1
    feeds = {"x": RNG.standard_normal((2, 7, 32)).astype(np.float32)}
    for got, want in zip(eng.run(feeds), reference(m, feeds)):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert_matches(got, want, rtol=1e-5, atol=1e-5)


def test_near_misses_stay_apart():
    # a density too far from the others for one weight format: that one stays on its own
    assert _packed_shapes(Engine(_siblings(sparsity=(0.9, 0.5, 0.9)))) == [(32, 24), (32, 48)]
    # a MatMul result read elsewhere keeps its bias Add separate, the MatMuls still merge
    m = _siblings(output_matmul=True)
    eng = Engine(m)
    assert _packed_shapes(eng) == [(32, 72)]
    feeds = {"x": RNG.standard_normal((1, 7, 32)).astype(np.float32)}
    for got, want in zip(eng.run(feeds), reference(m, feeds)):
        assert_matches(got, want, rtol=1e-5, atol=1e-5)
