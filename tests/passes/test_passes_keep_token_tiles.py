"""keep_token_tiles: consecutive PackedMatMuls hand over token tiles (no transposes in between),
only when the value between them is private; results match onnx.reference for token counts that
are not whole tiles, one token and none."""
import numpy as np
import pytest
from onnx import helper as h

from sparse_runtime import Engine
from pass_models import assert_matches, model, reference, tensor, vi

RNG = np.random.default_rng(11)


def _weight(k, n, sparsity=0.8):
    w = RNG.standard_normal((k, n)).astype(np.float32)
    w[RNG.random((k, n)) < sparsity] = 0
    return w


def _mlp(extra_output=None, residual_first=False):
    """x -> MatMul+bias -> Relu -> MatMul+bias -> Gelu -> MatMul + residual(x) -> y."""
    nodes = [h.make_node("MatMul", ["x", "w1"], ["a1"]), h.make_node("Add", ["a1", "b1"], ["z1"])]
    if residual_first:
        nodes.append(h.make_node("Add", ["z1", "x2"], ["z1r"]))
    nodes += [h.make_node("Relu", ["z1r" if residual_first else "z1"], ["h1"]),
              h.make_node("MatMul", ["h1", "w2"], ["a2"]), h.make_node("Add", ["a2", "b2"], ["z2"]),
              h.make_node("Gelu", ["z2"], ["h2"], domain=""),
              h.make_node("MatMul", ["h2", "w3"], ["a3"]), h.make_node("Add", ["a3", "x"], ["y"])]
    inits = [tensor("w1", _weight(48, 96)), tensor("b1", RNG.standard_normal(96).astype(np.float32)),
             tensor("w2", _weight(96, 80)), tensor("b2", RNG.standard_normal(80).astype(np.float32)),
             tensor("w3", _weight(80, 48))]
    inputs = [vi("x", ["b", "s", 48])] + ([vi("x2", ["b", "s", 96])] if residual_first else [])
    outputs = [vi("y", None)] + ([vi(extra_output, None)] if extra_output else [])
    return model(nodes, inputs, outputs, inits, opset=20)


def _layouts(eng):
    return [(n.attrs.get("in_layout", "rows"), n.attrs.get("out_layout", "rows"))
            for n in eng.graph.nodes if n.op_type == "PackedMatMul"]


@pytest.mark.parametrize("shape", [(2, 70), (1, 1), (1, 64), (3, 0)], ids=str)
def test_chain_hands_over_tiles(shape):
    m = _mlp()
    eng = Engine(m)
    assert _layouts(eng) == [("rows", "tiles"), ("tiles", "tiles"), ("tiles", "rows")]
    feeds = {"x": RNG.standard_normal(shape + (48,)).astype(np.float32)}
    (got,) = eng.run(feeds)
    assert got.dtype == np.float32 and got.shape == shape + (48,)
    assert_matches(got, reference(m, feeds)[0], rtol=1e-4, atol=1e-4)


def test_shared_or_residual_values_stay_rows():
    m = _mlp(extra_output="h1")  # the first result is also a graph output
    eng = Engine(m)
    assert _layouts(eng) == [("rows", "rows"), ("rows", "tiles"), ("tiles", "rows")]
    feeds = {"x": RNG.standard_normal((2, 5, 48)).astype(np.float32)}
    for got, want in zip(eng.run(feeds), reference(m, feeds)):
        assert_matches(got, want, rtol=1e-4, atol=1e-4)
    m = _mlp(residual_first=True)  # a residual on the first layer is added in row-major layout
    assert _layouts(Engine(m))[0] == ("rows", "rows")


def test_debug_mode_keeps_onnx_values():
    assert _layouts(Engine(_mlp(), debug=True)) == [("rows", "rows")] * 3
