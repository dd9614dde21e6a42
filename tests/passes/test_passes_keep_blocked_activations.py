"""keep_blocked_activations: dense convs, MaxPool and the global pools of a CNN hand each other
channel-blocked activations where every reader takes them; results match onnx.reference for
channel counts that are not whole blocks, batch 2 and odd planes."""
import numpy as np
import pytest
from onnx import helper as h

from sparse_runtime import Engine
from pass_models import assert_matches, model, reference, tensor, vi

RNG = np.random.default_rng(5)


def _conv(name, x, cin, cout, k, stride=1, relu=True, sparsity=0.0):
    """Conv (+ Relu) nodes and initializers; returns (nodes, inits, output name)."""
    w = (RNG.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
    w[RNG.random(w.shape) < sparsity] = 0
    b = RNG.standard_normal(cout).astype(np.float32) * 0.1
    out = f"{name}_c"
    nodes = [h.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [out], kernel_shape=[k, k], strides=[stride] * 2,
                         pads=[k // 2] * 4, name=name)]
    if relu:
        nodes.append(h.make_node("Relu", [out], [f"{name}_r"]))
        out = f"{name}_r"
    return nodes, [tensor(f"{name}_w", w), tensor(f"{name}_b", b)], out


def _cnn(extra_output=None, sparse_expand=False, pool_indices=False, sparse_after_pool=False):
    """Stem 7x7/2 -> MaxPool -> bottleneck (1x1, 3x3, 1x1 + shortcut 1x1, Add, Relu) -> 3x3/2
    -> GlobalAveragePool -> Flatten -> Gemm, with 40 / 24 / 72 channels (partial blocks)."""
    nodes, inits = [], []

    def add(parts):
        nodes.extend(parts[0])
        inits.extend(parts[1])
        return parts[2]

    x = add(_conv("stem", "x", 3, 40, 7, stride=2))
    pool_outputs = ["pool", "pool_idx"] if pool_indices else ["pool"]
    nodes.append(h.make_node("MaxPool", [x], pool_outputs, kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    after_pool = 0.95 if sparse_after_pool else 0.0
    a = add(_conv("reduce", "pool", 40, 24, 1, sparsity=after_pool))
    a = add(_conv("mid", a, 24, 24, 3))
    a = add(_conv("expand", a, 24, 72, 1, relu=False, sparsity=0.9 if sparse_expand else 0.0))
    s = add(_conv("short", "pool", 40, 72, 1, relu=False, sparsity=after_pool))
    nodes += [h.make_node("Add", [a, s], ["sum"]), h.make_node("Relu", ["sum"], ["block"])]
    t = add(_conv("down", "block", 72, 40, 3, stride=2))
    nodes += [h.make_node("GlobalAveragePool", [t], ["gap"]), h.make_node("Flatten", ["gap"], ["flat"]),
              h.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], transB=1)]
    inits += [tensor("fc_w", RNG.standard_normal((10, 40)).astype(np.float32)),
              tensor("fc_b", RNG.standard_normal(10).astype(np.float32))]
    outputs = [vi("y", None)] + [vi(o, None) for o in ([extra_output] if extra_output else [])]
    return model(nodes, [vi("x", ["n", 3, 37, 41])], outputs, inits, opset=17)


def _marks(eng):
    """Per node of the optimised graph: (op, x_blocked, y_blocked) for convs, (op, layout) else."""
    return [(n.op_type, bool(n.attrs.get("x_blocked")), bool(n.attrs.get("y_blocked"))) if n.op_type == "PackedConv"
            else (n.op_type, n.attrs.get("layout")) for n in eng.graph.nodes if n.op_type != "Flatten"]


def _check(m, eng, batch=2):
    feeds = {"x": RNG.standard_normal((batch, 3, 37, 41)).astype(np.float32)}
    got = eng.run(feeds)
    assert_matches(got, reference(m, feeds), rtol=1e-4, atol=1e-4)


def test_cnn_runs_blocked_between_convs():
    m = _cnn()
    eng = Engine(m, options={"weight_format": "dense"})
    assert _marks(eng) == [("PackedConv", False, True), ("MaxPool", "blocked"), ("PackedConv", True, True),
                           ("PackedConv", True, True), ("PackedConv", True, True), ("PackedConv", True, True),
                           ("PackedConv", True, True), ("GlobalAveragePool", "blocked"), ("PackedMatMul", None)]
    for batch in (1, 2):
        _check(m, eng, batch)


def test_graph_outputs_sparse_readers_and_indices_stay_nchw():
    m = _cnn(extra_output="mid_r")  # a conv result that is also a graph output
    eng = Engine(m, options={"weight_format": "dense"})
    mid = next(n for n in eng.graph.nodes if n.outputs[0] == "mid_r")
    assert mid.attrs["x_blocked"] and not mid.attrs["y_blocked"]
    _check(m, eng)

    m = _cnn(sparse_expand=True)  # a CSR conv reads NCHW, and its residual must be NCHW too
    eng = Engine(m, options={"weight_format": "auto"})
    expand = next(n for n in eng.graph.nodes if n.name == "expand")
    if expand.attrs["weights"][0].format != "dense":
        assert not expand.attrs.get("x_blocked") and not expand.attrs.get("y_blocked")
        short = next(n for n in eng.graph.nodes if n.name == "short")
        assert short.attrs["x_blocked"] and not short.attrs["y_blocked"]
    _check(m, eng)

    m = _cnn(pool_indices=True)  # MaxPool's Indices are NCHW positions: the pool stays NCHW
    eng = Engine(m, options={"weight_format": "dense"})
    assert ("MaxPool", None) in _marks(eng)
    feeds = {"x": RNG.standard_normal((1, 3, 37, 41)).astype(np.float32)}
    assert_matches(eng.run(feeds), reference(m, feeds), rtol=1e-4, atol=1e-4)


def test_pool_read_only_by_sparse_convs_takes_blocked_input():
    """Pruned ResNet-50's shape: the pool's readers are sparse (NCHW) convs, so the pool reads the
    stem's blocked output and returns NCHW ("blocked_in")."""
    m = _cnn(sparse_after_pool=True)
    eng = Engine(m, options={"weight_format": "auto"})
    readers = [n for n in eng.graph.nodes if n.name in ("reduce", "short")]
    pool = next(n for n in eng.graph.nodes if n.op_type == "MaxPool")
    stem = next(n for n in eng.graph.nodes if n.name == "stem")
    if all(r.attrs["weights"][0].format != "dense" for r in readers):  # format chosen by timing
        assert pool.attrs.get("layout") == "blocked_in"
        assert stem.attrs["y_blocked"] and not any(r.attrs.get("x_blocked") for r in readers)
    for batch in (1, 2):
        _check(m, eng, batch)


def test_debug_mode_and_disabled_pass_keep_nchw():
    m = _cnn()
    for eng in (Engine(m, debug=True, options={"weight_format": "dense"}),
                Engine(m, options={"weight_format": "dense", "disable_passes": ["keep_blocked_activations"]})):
        assert all(mark[1:] in ((False, False), (None,)) for mark in _marks(eng))
        _check(m, eng)


def test_blocked_kernels_reject_nchw_values():
    m = _cnn()
    eng = Engine(m, options={"weight_format": "dense"})
    from sparse_runtime.engine.planner import compile_graph_node
    conv = next(n for n in eng.graph.nodes if n.name == "mid")
    kernel, _ = compile_graph_node(conv, eng.graph)
    with pytest.raises(Exception, match="must be a BlockedTensor"):
        kernel([np.zeros((1, 24, 10, 11), np.float32)])


def test_broadcast_residual_stays_nchw():
    # fuse_epilogue fuses a computed Add operand that broadcasts ([n, C, 1, 1] here) as the
    # residual; the blocked kernels add only one of the output's shape, so that conv stays NCHW.
    nodes, inits, a = _conv("first", "x", 3, 40, 3)
    more, more_inits, b = _conv("second", a, 40, 40, 3, relu=False)
    nodes += more + [h.make_node("GlobalAveragePool", [a], ["e"]), h.make_node("Add", [b, "e"], ["s"]),
                     h.make_node("Relu", ["s"], ["y"])]
    m = model(nodes, [vi("x", ["n", 3, 37, 41])], [vi("y", None)], inits + more_inits, opset=17)
    eng = Engine(m, options={"weight_format": "dense"})
    second = next(n for n in eng.graph.nodes if n.name == "second")
    assert len(second.inputs) == 2 and not second.attrs.get("y_blocked") and not second.attrs.get("x_blocked")
    _check(m, eng)
