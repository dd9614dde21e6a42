"""Symbolic batch/sequence dims: any concrete shape runs, one specialised plan per input signature
(bounded LRU), packed weights shared between plans, results match ONNX Runtime."""
from __future__ import annotations

import numpy as np
import pytest

from sparse_runtime import Engine
from sparse_runtime.engine.specialize import shape_derived_values
from sparse_runtime.models import bert_encoder

ort = pytest.importorskip("onnxruntime")

SHAPES = [(1, 16), (4, 128), (2, 384)]


@pytest.fixture(scope="module")
def bert():
    model = bert_encoder(layers=2, hidden=64, heads=4, ffn=256, symbolic=True, vocab=1000)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return model, sess


def _feeds(sess, batch, seq, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in sess.get_inputs():
        if inp.name == "attention_mask":
            mask = np.ones((batch, seq), np.int64)
            mask[:, seq - seq // 4:] = 0  # padded tail, so the mask path matters
            feeds[inp.name] = mask
        else:
            feeds[inp.name] = rng.integers(0, 1000, size=(batch, seq)).astype(np.int64)
    return feeds


def _rel_err(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-12))


def test_symbolic_bert_matches_onnxruntime_at_every_shape(bert):
    model, sess = bert
    eng = Engine(model)
    assert any(isinstance(d, str) for d in eng.input_shapes[0])
    for batch, seq in SHAPES:
        feeds = _feeds(sess, batch, seq)
        want = sess.run(None, feeds)
        first = eng.run(feeds)  # generic plan, then a specialised one is cached
        again = eng.run(feeds)  # the specialised plan
        for got in (first, again):
            assert got[0].shape == (batch, seq, 64)
            assert _rel_err(got[0], want[0]) < 1e-4
    assert eng.cached_signatures == [((b, s), (b, s)) for b, s in SHAPES]


def test_specialised_plan_folds_the_shape_arithmetic(bert):
    model, sess = bert
    eng = Engine(model)
    assert shape_derived_values(eng.graph), "the symbolic model should compute values from shapes"
    feeds = _feeds(sess, 2, 32)
    eng.run(feeds)
    plan = eng.plan_for(feeds)
    assert plan is not eng.plan
    assert len(plan.steps) < len(eng.plan.steps)
    assert not any(step[4].op_type == "Shape" for step in plan.steps)


def test_plan_cache_is_bounded_lru_and_shares_packed_weights(bert):
    model, sess = bert
    eng = Engine(model, plan_cache_size=2)
    for batch, seq in [(1, 8), (1, 16), (1, 8), (1, 24)]:
        eng.run(_feeds(sess, batch, seq))
    assert eng.cached_signatures == [((1, 8), (1, 8)), ((1, 24), (1, 24))]  # (1, 16) evicted
    plans = [eng.plan_for(_feeds(sess, 1, s)) for s in (8, 24)]
    for plan in plans:  # same attribute objects (packed weights) as the compiled graph, no repacking
        compiled = {id(v) for n in eng.graph.nodes for v in n.attrs.values()}
        lowered = [s[4] for s in plan.steps if s[4].domain == "sparse_runtime"]
        # "qkv" is the signature's own: the head split it absorbed once the shapes were constants
        assert all(id(v) in compiled for n in lowered for k, v in n.attrs.items() if k != "qkv")
        assert any("qkv" in n.attrs for n in lowered)


def test_model_without_shape_arithmetic_uses_one_plan():
    from onnx import TensorProto as T
    from onnx import helper as h

    g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "g",
                     [h.make_tensor_value_info("x", T.FLOAT, ["batch", 4])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 4])])
    eng = Engine(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]))
    for batch in (1, 3):
        x = np.full((batch, 4), -1.0, np.float32)
        assert eng.run([x])[0].shape == (batch, 4)
    assert eng.cached_signatures == [] and eng.plan_for([x]) is eng.plan


def test_static_model_with_inference_gaps_is_specialised_once():
    # onnx shape inference loses the batch dim of this export (an 'unk__' dim), so fold_constants
    # cannot fold its Shape chains; the first run's specialisation does.
    model = bert_encoder(layers=1, hidden=32, heads=2, ffn=64, seq=8, vocab=100)
    eng = Engine(model)
    feeds = {n: np.ones((1, 8), np.int64) for n in eng.input_names}
    first = eng.run(feeds)
    second = eng.run(feeds)
    np.testing.assert_array_equal(first[0], second[0])
    assert len(eng.cached_signatures) == 1
    assert len(eng.plan_for(feeds).steps) < len(eng.plan.steps)


def test_data_dependent_shapes_are_not_specialised():
    from onnx import TensorProto as T
    from onnx import helper as h

    # Shape of NonZero's output depends on the data: it must stay in the plan.
    nodes = [h.make_node("NonZero", ["x"], ["nz"]), h.make_node("Shape", ["nz"], ["s"]),
             h.make_node("Shape", ["x"], ["sx"]), h.make_node("Concat", ["s", "sx"], ["y"], axis=0)]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", T.FLOAT, ["n"])],
                     [h.make_tensor_value_info("y", T.INT64, [None])])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    eng = Engine(model)
    assert shape_derived_values(eng.graph) == ["sx"]
    for x in (np.array([0, 1, 2], np.float32), np.array([3, 0, 0], np.float32), np.array([1, 1, 1], np.float32)):
        (y,) = eng.run([x])
        np.testing.assert_array_equal(y, [1, np.count_nonzero(x), 3])
