"""Fused native attention against float64 numpy: every ISA, head-split views read in place, K given
as Kᵀ rows or as a transposed view of K, masks shared by heads or per query, numpy broadcasting."""
import numpy as np
import pytest

from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine, _native, kernels


def reference(q, kt, v, mask, scale):
    s = scale * np.matmul(q.astype(np.float64), kt.astype(np.float64))
    if mask is not None:
        s = s + mask
    e = np.exp(s - s.max(-1, keepdims=True))
    return np.matmul(e / e.sum(-1, keepdims=True), v.astype(np.float64))


def head_split(rng, b, length, heads, d):
    """[b, heads, length, d] as the exporter's Reshape + Transpose makes it: a non-contiguous view."""
    return rng.standard_normal((b, length, heads, d)).astype(np.float32).transpose(0, 2, 1, 3)


# (batch, heads, queries, keys, head size): BERT-base, ragged sizes, one token, long keys
SHAPES = [(1, 12, 128, 128, 64), (2, 3, 17, 17, 5), (1, 1, 1, 1, 1), (2, 2, 9, 200, 24), (1, 2, 5, 3000, 8)]


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("k_layout", ["kt_view", "kt_contiguous"])
@pytest.mark.parametrize("mask_kind", ["none", "keys", "full"])
def test_attention_matches_numpy(isa, shape, k_layout, mask_kind):
    b, h, lq, lk, d = shape
    rng = np.random.default_rng(sum(shape))
    q = head_split(rng, b, lq, h, d)
    kt = head_split(rng, b, lk, h, d).transpose(0, 1, 3, 2)  # Kᵀ as a view of K rows
    if k_layout == "kt_contiguous":
        kt = np.ascontiguousarray(kt)
    v = head_split(rng, b, lk, h, d)
    mask = {"none": None,
            "keys": (rng.random((b, 1, 1, lk)) < 0.3).astype(np.float32) * -1e4,
            "full": rng.standard_normal((1, h, lq, lk)).astype(np.float32)}[mask_kind]
    with kernels.force_isa(isa):
        got = kernels.attention(q, kt, v, mask, 0.125)
    want = reference(q, kt, v, mask, 0.125)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_attention_broadcasts_like_numpy():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((4, 6, 8)).astype(np.float32)  # rank 3: heads only
    kt = rng.standard_normal((1, 8, 6)).astype(np.float32)  # one Kᵀ shared by all heads
    v = rng.standard_normal((4, 6, 5)).astype(np.float32)
    mask = rng.standard_normal((2, 1, 1, 6)).astype(np.float32)  # adds a batch dim
    got = kernels.attention(q, kt, v, mask, 0.5)
    want = reference(q, kt, v, mask, 0.5)
    assert got.shape == want.shape == (2, 4, 6, 5)
    assert np.abs(got - want).max() <= 1e-5


def test_attention_leaves_unsupported_cases_to_the_caller():
    rng = np.random.default_rng(4)
    q5 = rng.standard_normal((1, 1, 2, 3, 4)).astype(np.float32)
    kt5 = rng.standard_normal((1, 1, 2, 4, 3)).astype(np.float32)
    assert kernels.attention(q5, kt5, q5, None) is None  # rank 5
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    kt = rng.standard_normal((2, 4, 3)).astype(np.float32)
    assert kernels.attention(q, kt, q, np.zeros((2, 3, 1), np.float32)) is None  # mask broadcast over keys


def test_native_attention_checks_its_inputs():
    q = np.zeros((2, 3, 4), np.float32)
    kt = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _native.attention(q.astype(np.float64), kt, q, None, 1.0)
    with pytest.raises(ValueError, match="head size"):
        _native.attention(q, np.zeros((2, 5, 3), np.float32), q, None, 1.0)
    with pytest.raises(ValueError, match="differ in keys"):
        _native.attention(q, kt, np.zeros((2, 4, 4), np.float32), None, 1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        _native.attention(q, np.zeros((3, 4, 3), np.float32), q, None, 1.0)
    with pytest.raises(ValueError, match="contiguous"):
        _native.attention(np.zeros((2, 4, 3), np.float32).transpose(0, 2, 1), kt, q, None, 1.0)
    with pytest.raises(ValueError, match="mask"):
        _native.attention(q, kt, q, np.zeros((2, 3, 2), np.float32), 1.0)
    with pytest.raises(ValueError, match="empty"):
        _native.attention(np.zeros((2, 0, 4), np.float32), kt, q, None, 1.0)
    for not_an_array in (np.float32(0.5), 0.5, [[0.0] * 3] * 3):  # read as an array: screened first
        with pytest.raises(TypeError, match="mask"):
            _native.attention(q, kt, q, not_an_array, 1.0)


def test_fused_attention_with_a_scalar_mask_runs_the_general_path():
    """A mask that arrives as a numpy scalar (Gather with a scalar index) goes to the general path."""
    f = TensorProto.FLOAT
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["s"]), helper.make_node("Gather", ["m", "idx"], ["mask"]),
             helper.make_node("Add", ["s", "mask"], ["sm"]), helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, f, None) for n in ("q", "kt", "v", "m")],
                              [helper.make_tensor_value_info("y", f, None)],
                              [numpy_helper.from_array(np.array(0, np.int64), "idx")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rng = np.random.default_rng(5)
    feeds = {"q": rng.standard_normal((1, 2, 4, 8)).astype(np.float32),
             "kt": rng.standard_normal((1, 2, 8, 4)).astype(np.float32),
             "v": rng.standard_normal((1, 2, 4, 8)).astype(np.float32),
             "m": rng.standard_normal(3).astype(np.float32)}
    engine = Engine(model)
    assert "FusedAttention" in [n.op_type for n in engine.graph.nodes]
    want = ReferenceEvaluator(model).run(None, feeds)[0]
    got = engine.run(feeds)[0]
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
