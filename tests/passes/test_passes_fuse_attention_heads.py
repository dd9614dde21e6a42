"""fuse_attention_heads: the Split -> Reshape -> Transpose head split of a packed QKV projection
(and the merging Reshape after) fold into FusedAttention, which reads the heads in place; for
symbolic inputs on the plans specialised per input signature. Results match onnxruntime and
onnx.reference; inputs the fast path does not take run the absorbed nodes."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine
from sparse_runtime.engine.planner import compile_graph_node
from sparse_runtime.models import bert_encoder

RNG = np.random.default_rng(8)


def _fused(plan):
    return [step[4] for step in plan.steps if step[4].op_type == "FusedAttention"]


def _feeds(b, s):
    am = np.ones((b, s), np.int64)
    am[0, s - 2:] = 0
    return {"input_ids": RNG.integers(0, 1000, (b, s)).astype(np.int64), "attention_mask": am}


def _check(model, eng, feeds):
    got = eng.run(feeds)[0]
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for want in (sess.run(None, feeds)[0], ReferenceEvaluator(model).run(None, feeds)[0]):
        assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, float(np.abs(want).max()))


@pytest.mark.parametrize("symbolic", [True, False])
def test_heads_are_read_from_the_packed_projection(symbolic):
    model = bert_encoder(layers=2, hidden=64, heads=4, ffn=128, seq=16, symbolic=symbolic)
    eng = Engine(model)
    shapes = [(1, 16), (2, 9)] if symbolic else [(1, 16)]
    for b, s in shapes:
        feeds = _feeds(b, s)
        _check(model, eng, feeds)  # the first run at a signature probes it (generic plan)
        _check(model, eng, feeds)  # later runs take the specialised plan
        fused = _fused(eng.plan_for(feeds))
        assert len(fused) == 2 and all("qkv" in n.attrs and "merge" in n.attrs["qkv"] for n in fused)
        ops = [step[4].op_type for step in eng.plan_for(feeds).steps]
        assert "Split" not in ops and "Transpose" not in ops and "Reshape" not in ops
    if symbolic:  # the generic plan keeps the head split: its shapes are computed
        assert not any("qkv" in n.attrs for n in eng.graph.nodes if n.op_type == "FusedAttention")


def test_inputs_off_the_fast_path_run_the_absorbed_nodes():
    model = bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, symbolic=False)
    eng = Engine(model)
    feeds = _feeds(1, 16)
    eng.run(feeds)
    node = _fused(eng.plan_for(feeds))[0]
    kernel, _ = compile_graph_node(node, eng.graph)
    x = RNG.standard_normal((1, 16, 192)).astype(np.float32)
    mask = np.zeros((1, 1, 1, 16), np.float32)
    fast = kernel([x, None, None, mask])[0]
    strided = np.empty((1, 16, 384), np.float32)[:, :, ::2]  # not contiguous: the native call declines
    strided[...] = x
    slow = kernel([strided, None, None, mask])[0]
    assert fast.shape == slow.shape == (1, 16, 64) and fast.dtype == slow.dtype == np.float32
    np.testing.assert_allclose(slow, fast, rtol=1e-5, atol=1e-5)
    # The reference formula, from the same projection.
    q, k, v = (x[0, :, i * 64:(i + 1) * 64].reshape(16, 4, 16).transpose(1, 0, 2) for i in range(3))
    scores = q @ k.transpose(0, 2, 1) * 0.25
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(fast, (p @ v).transpose(1, 0, 2).reshape(1, 16, 64), rtol=1e-4, atol=1e-5)
    with pytest.raises(Exception, match="Reshape|reshape|size"):
        kernel([RNG.standard_normal((1, 16, 96)).astype(np.float32), None, None, mask])  # the Split's error
