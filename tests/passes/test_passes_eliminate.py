"""eliminate_identity and eliminate_dead_nodes."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto as T
from onnx import helper as h

from pass_models import assert_matches, ctx, load, model, ops, reference, tensor, vi
from sparse_runtime import Engine
from sparse_runtime.ir import verify
from sparse_runtime.passes import eliminate_dead_nodes, eliminate_identity


def _run_same(m, *inputs):
    feeds = {f"x{i}" if len(inputs) > 1 else "x": a for i, a in enumerate(inputs)}
    assert_matches(Engine(m).run(feeds), reference(m, feeds))


def test_identity_chain_removed():
    m = model([h.make_node("Relu", ["x"], ["a"], name="relu"),
               h.make_node("Identity", ["a"], ["b"], name="id1"),
               h.make_node("Identity", ["b"], ["c"], name="id2"),
               h.make_node("Neg", ["c"], ["y"], name="neg")],
              [vi("x", [3])], [vi("y", [3])])
    out = eliminate_identity(load(m), ctx())
    verify(out)
    assert ops(out) == ["Relu", "Neg"]
    assert out.nodes[1].inputs == ["a"]
    _run_same(m, np.array([-1, 0, 2], np.float32))


def test_identity_to_graph_output_keeps_output_name():
    m = model([h.make_node("Relu", ["x"], ["a"], name="relu"),
               h.make_node("Neg", ["a"], ["n"], name="neg"),
               h.make_node("Identity", ["a"], ["out"], name="id")],
              [vi("x", [3])], [vi("n", [3]), vi("out", [3])])
    out = eliminate_identity(load(m), ctx())
    verify(out)
    assert ops(out) == ["Relu", "Neg"]
    assert [o.name for o in out.outputs] == ["n", "out"]
    assert out.nodes[0].outputs == ["out"] and out.nodes[1].inputs == ["out"]
    _run_same(m, np.array([-1, 0, 2], np.float32))


def test_identity_from_input_or_initializer_to_output_is_kept():
    m = model([h.make_node("Identity", ["x"], ["y"], name="id1"),
               h.make_node("Identity", ["w"], ["z"], name="id2")],
              [vi("x", [3])], [vi("y", [3]), vi("z", [3])], [tensor("w", np.ones(3, np.float32))])
    out = eliminate_identity(load(m), ctx())
    verify(out)
    assert ops(out) == ["Identity", "Identity"]


def test_identity_between_two_graph_outputs_kept():
    m = model([h.make_node("Relu", ["x"], ["a"], name="relu"),
               h.make_node("Identity", ["a"], ["b"], name="id")],
              [vi("x", [3])], [vi("a", [3]), vi("b", [3])])
    out = eliminate_identity(load(m), ctx())
    verify(out)
    assert ops(out) == ["Relu", "Identity"]
    _run_same(m, np.array([-1, 0, 2], np.float32))


def test_dropout_and_same_type_cast_removed_other_cast_kept():
    m = model([h.make_node("Dropout", ["x"], ["d"], name="drop"),
               h.make_node("Cast", ["d"], ["c"], name="cast_same", to=T.FLOAT),
               h.make_node("Cast", ["c"], ["y"], name="cast_int", to=T.INT32)],
              [vi("x", [3])], [vi("y", [3], T.INT32)])
    out = eliminate_identity(load(m), ctx())
    verify(out)
    assert ops(out) == ["Cast"] and out.nodes[0].name == "cast_int" and out.nodes[0].inputs == ["x"]
    _run_same(m, np.array([-1.5, 0, 2.5], np.float32))


def test_dropout_with_used_mask_or_training_mode_kept():
    m = model([h.make_node("Dropout", ["x"], ["d", "mask"], name="drop"),
               h.make_node("Dropout", ["d", "", "train"], ["y"], name="drop_train")],
              [vi("x", [3])], [vi("y", [3]), vi("mask", [3], T.BOOL)],
              [tensor("train", np.array(True))])
    out = eliminate_identity(load(m), ctx())
    assert ops(out) == ["Dropout", "Dropout"]


def test_dead_nodes_and_unused_initializers_removed():
    m = model([h.make_node("Relu", ["x"], ["a"], name="relu"),
               h.make_node("Add", ["a", "w"], ["dead1"], name="dead_add"),
               h.make_node("Neg", ["dead1"], ["dead2"], name="dead_neg"),
               h.make_node("Mul", ["a", "k"], ["y"], name="mul")],
              [vi("x", [3])], [vi("y", [3])],
              [tensor("w", np.ones(3, np.float32)), tensor("k", np.full(3, 2, np.float32))])
    g = load(m)
    out = eliminate_dead_nodes(g, ctx())
    verify(out)
    assert ops(out) == ["Relu", "Mul"]
    assert set(out.initializers) == {"k"}
    assert ops(g) == ["Relu", "Add", "Neg", "Mul"] and "w" in g.initializers  # pure
    eng = Engine(m)
    assert ops(eng.graph) == ["Relu", "Mul"]
    _run_same(m, np.array([-1, 0, 2], np.float32))


def test_unused_graph_input_is_kept():
    m = model([h.make_node("Relu", ["x"], ["y"], name="relu")],
              [vi("x", [3]), vi("unused", [2])], [vi("y", [3])])
    out = eliminate_dead_nodes(load(m), ctx())
    assert [v.name for v in out.inputs] == ["x", "unused"]
