"""PIPELINE / run_pipeline, and ir.verify / toposort."""
from __future__ import annotations

import numpy as np
import pytest

from pass_models import ctx, load, ops, torch_reshape_chain
from sparse_runtime.ir import Graph, IRError, Node, ValueInfo, toposort, verify
from sparse_runtime.passes import (PIPELINE, eliminate_dead_nodes, eliminate_identity, fold_constants,
                                   lower_linear, run_pipeline)


def test_pipeline_order():
    names = [p.__name__ for p in PIPELINE]
    # Folding and cleanup first, so lowering sees constant weights and the fusions constant
    # scales; attention reads its heads from the QKV projection once the siblings merged; BN
    # folds into Conv before packing; epilogue fusion needs packed nodes; token tiles
    # pair layers once their epilogues (a residual ends a pair) are final, and blocked conv
    # activations likewise (a residual must share its conv's layout); a last sweep drops the
    # replaced dense weights.
    assert names == ["fold_constants", "eliminate_identity", "eliminate_dead_nodes", "fuse_layernorm", "fuse_attention",
                     "merge_sibling_matmuls", "fuse_attention_heads", "fold_batchnorm", "lower_linear", "fuse_epilogue", "keep_token_tiles",
                     "keep_blocked_activations", "eliminate_dead_nodes"]


def test_run_pipeline_debug_verifies_and_folds():
    g = load(torch_reshape_chain([2, 3, 4]))
    out = run_pipeline(g, ctx(debug=True))
    assert ops(out) == ["Reshape", "Relu"]
    assert set(out.initializers) == {"newshape"}  # the index constants died with their users


def test_broken_pass_is_caught_in_debug_mode():
    def drop_first_node(graph, c):
        g = graph.copy()
        g.nodes = g.nodes[1:]
        return g

    g = load(torch_reshape_chain(["N", 3, 4]))
    with pytest.raises(IRError, match="after pass 'drop_first_node'.*input 's'"):
        run_pipeline(g, ctx(debug=True), passes=[drop_first_node])
    run_pipeline(g, ctx(debug=False), passes=[drop_first_node])  # not checked without debug


def test_disable_passes_option():
    g = load(torch_reshape_chain([2, 3, 4]))
    out = run_pipeline(g, ctx(options={"disable_passes": ["fold_constants"]}))
    assert "Shape" in ops(out)


def test_pass_returning_none_is_an_error():
    def lazy(graph, c):
        graph.nodes.clear()  # (a pass that forgot to copy and to return)

    with pytest.raises(TypeError, match="pass 'lazy' returned NoneType"):
        run_pipeline(load(torch_reshape_chain([2, 3, 4])), ctx(), passes=[lazy])


def _g(nodes, inputs=("x",), outputs=("y",), inits=()):
    return Graph(nodes=nodes, inputs=[ValueInfo(n) for n in inputs], outputs=[ValueInfo(n) for n in outputs],
                 initializers={k: np.zeros(1) for k in inits})


def test_verify_accepts_good_graph():
    verify(_g([Node("Relu", ["x"], ["a"], name="r"), Node("Add", ["a", "w"], ["y"], name="add")], inits=["w"]))


def test_verify_order_names_node():
    g = _g([Node("Neg", ["a"], ["y"], name="late"), Node("Relu", ["x"], ["a"], name="r")])
    with pytest.raises(IRError, match="'late'.*input 'a'.*later node"):
        verify(g)


def test_verify_undefined_input():
    with pytest.raises(IRError, match="'n1'.*'nowhere'.*never defined"):
        verify(_g([Node("Add", ["x", "nowhere"], ["y"], name="n1")]))


def test_verify_duplicate_output():
    g = _g([Node("Relu", ["x"], ["y"], name="a"), Node("Neg", ["x"], ["y"], name="b")])
    with pytest.raises(IRError, match="'b'.*output 'y'.*already defined"):
        verify(g)
    with pytest.raises(IRError, match="'c'.*output 'x'"):
        verify(_g([Node("Relu", ["x"], ["x"], name="c")], outputs=["x"]))


def test_verify_graph_output_not_produced():
    with pytest.raises(IRError, match="graph output 'y'"):
        verify(_g([Node("Relu", ["x"], ["a"], name="r")]))


def test_toposort_stable_and_cycle():
    a = Node("Relu", ["x"], ["a"], name="a")
    b = Node("Neg", ["a"], ["b"], name="b")
    c = Node("Abs", ["x"], ["c"], name="c")
    nodes = [b, c, a]
    assert [n.name for n in toposort(nodes, {"x"})] == ["c", "a", "b"]
    already = [a, b, c]
    assert toposort(already, {"x"}) is already
    with pytest.raises(IRError, match="cycle.*'p'"):
        toposort([Node("Relu", ["q"], ["p"], name="p"), Node("Relu", ["p"], ["q"], name="q")], {"x"})
