"""Scaled-dot-product attention as exporters write it becomes one FusedAttention node: Div or Mul
of the scores, the SDPA form (√scale on Q and on Kᵀ), with or without an additive mask, a scale
computed at run time from a shape; values match onnx.reference and onnxruntime. Near misses stay."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine
from sparse_runtime.models import bert_encoder

RNG = np.random.default_rng(5)
M = helper.make_node
B, H, S, D = 2, 4, 7, 16


def _c(name, v, dt=np.float32):
    return numpy_helper.from_array(np.asarray(v, dt), name)


def _model(form="div", mask=True, mask_first=False, extra_output=None, axis=-1, dtype=TensorProto.FLOAT, opset=17,
           merge=None):
    npdt = np.float64 if dtype == TensorProto.DOUBLE else np.float32
    nodes = [M("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2])]
    inits = []
    if form == "div":
        nodes += [M("MatMul", ["q", "kt"], ["s0"]), M("Div", ["s0", "c"], ["s"])]
        inits.append(_c("c", np.sqrt(D), npdt))
    elif form == "mul":
        nodes += [M("MatMul", ["q", "kt"], ["s0"]), M("Mul", ["c", "s0"], ["s"])]
        inits.append(_c("c", 1 / np.sqrt(D), npdt))
    elif form == "sdpa":  # torch's scaled_dot_product_attention export: √scale on both sides
        nodes += [M("Mul", ["q", "c"], ["qs"]), M("Mul", ["kt", "c"], ["ks"]), M("MatMul", ["qs", "ks"], ["s"])]
        inits.append(_c("c", [D ** -0.25], npdt))
    elif form == "runtime":  # 1/√d computed from Shape(q) at run time, as TorchScript does
        nodes += [M("Shape", ["q"], ["shp"], start=-1), M("Cast", ["shp"], ["d"], to=dtype),
                  M("Sqrt", ["d"], ["sq"]), M("MatMul", ["q", "kt"], ["s0"]), M("Div", ["s0", "sq"], ["s"])]
    if mask:
        nodes.append(M("Add", ["m", "s"] if mask_first else ["s", "m"], ["sm"]))
    nodes += [M("Softmax", ["sm" if mask else "s"], ["p"], axis=axis),
              M("MatMul", ["p", "v"], ["y" if merge is None else "pv"])]
    if merge is not None:  # heads merged back into tokens, as exporters write it
        nodes += [M("Transpose", ["pv"], ["yt"], perm=merge),
                  M("Reshape", ["yt", "merged"], ["y"])]
        inits.append(_c("merged", [0, 0, -1], np.int64))
    ins = [helper.make_tensor_value_info(n, dtype, ["b", H, "s", D]) for n in ("q", "k", "v")]
    if mask:
        ins.append(helper.make_tensor_value_info("m", dtype, ["b", 1, 1, "s"]))
    outs = [helper.make_tensor_value_info("y", dtype, None)]
    if extra_output:
        outs.append(helper.make_tensor_value_info(extra_output, dtype, None))
    g = helper.make_graph(nodes, "attn", ins, outs, initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _feeds(mask=True, dt=np.float32, b=B, s=S):
    f = {n: RNG.standard_normal((b, H, s, D)).astype(dt) for n in ("q", "k", "v")}
    if mask:
        m = np.zeros((b, 1, 1, s), dt)
        m[0, ..., s // 2:] = -10000.0
        f["m"] = m
    return f


def _check(model, feeds):
    eng = Engine(model)
    got = eng.run(feeds)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for want in (ReferenceEvaluator(model).run(None, feeds), sess.run(None, feeds)):
        for a, e in zip(got, want):
            assert a.dtype == e.dtype and a.shape == e.shape
            assert np.abs(a - e).max() <= 1e-5 * max(1.0, float(np.abs(e).max()))
    return eng


def _ops(eng):
    return [n.op_type for n in eng.graph.nodes]


@pytest.mark.parametrize("form", ["div", "mul", "sdpa", "runtime"])
@pytest.mark.parametrize("mask", [True, False])
def test_attention_is_fused(form, mask):
    eng = _check(_model(form, mask), _feeds(mask))
    assert "FusedAttention" in _ops(eng)
    assert not {"Softmax", "MatMul", "Div"} & set(_ops(eng))
    (node,) = [n for n in eng.graph.nodes if n.op_type == "FusedAttention"]
    if form == "runtime":
        assert node.attrs["factor_powers"] == [-1] and node.attrs["scale"] == 1.0
    else:
        assert node.attrs["scale"] == pytest.approx(D ** -0.5, rel=1e-6)
    assert (node.inputs[3] != "") == mask
    # Another signature: the same compiled graph, a new plan.
    _check(_model(form, mask), _feeds(mask, b=1, s=12))


def test_mask_on_either_side_and_opset_11():
    eng = _check(_model("div", mask_first=True), _feeds())
    assert _ops(eng) == ["Transpose", "FusedAttention"]
    # Before opset 13 Softmax(axis=3) on 4-D scores is the same as the last axis.
    eng = _check(_model("div", axis=3, opset=11), _feeds())
    assert "FusedAttention" in _ops(eng)


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.DOUBLE])
def test_head_merge_transpose_is_absorbed(dtype):
    npdt = np.float64 if dtype == TensorProto.DOUBLE else np.float32
    eng = _check(_model("div", merge=[0, 2, 1, 3], dtype=dtype), _feeds(dt=npdt))
    assert _ops(eng) == ["Transpose", "FusedAttention", "Reshape"]
    (node,) = [n for n in eng.graph.nodes if n.op_type == "FusedAttention"]
    assert node.attrs["heads_last"] == 1
    assert eng.run(_feeds(dt=npdt))[0].shape == (B, S, H * D)
    # Any other permutation is left alone.
    eng = _check(_model("div", merge=[0, 1, 3, 2]), _feeds())
    assert _ops(eng).count("Transpose") == 2 and "heads_last" not in eng.graph.nodes[1].attrs


def test_float64_runs_the_numpy_path():
    eng = _check(_model("div", dtype=TensorProto.DOUBLE), _feeds(dt=np.float64))
    assert "FusedAttention" in _ops(eng)


@pytest.mark.parametrize("extra", ["p", "s", "sm"])
def test_shared_intermediates_stay(extra):
    eng = _check(_model("div", extra_output=extra), _feeds())
    assert "FusedAttention" not in _ops(eng) and "Softmax" in _ops(eng)


def test_softmax_on_another_axis_stays():
    eng = _check(_model("div", axis=2), _feeds())
    assert "FusedAttention" not in _ops(eng)


@pytest.mark.parametrize("layernorm", ["decomposed", "fused"])
def test_bert_generator(layernorm):
    model = bert_encoder(layers=2, hidden=64, heads=4, ffn=128, seq=16, symbolic=True, layernorm=layernorm)
    eng = Engine(model)
    ops = _ops(eng)
    assert ops.count("FusedAttention") == 2 and "Softmax" not in ops and "MatMul" not in ops
    assert ops.count("FusedLayerNorm" if layernorm == "decomposed" else "LayerNormalization") == 5
    assert "Erf" not in ops and "ReduceMean" not in ops
    acts = [r["activation"] for r in eng.report()]
    assert acts.count("gelu_erf") == 2
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for b, s in [(1, 16), (2, 9)]:
        ids = RNG.integers(0, 1000, (b, s)).astype(np.int64)
        am = np.ones((b, s), np.int64)
        am[0, s - 3:] = 0
        feeds = {"input_ids": ids, "attention_mask": am}
        got = eng.run(feeds)[0]
        for want in (ReferenceEvaluator(model).run(None, feeds)[0], sess.run(None, feeds)[0]):
            assert got.dtype == want.dtype == np.float32 and got.shape == want.shape == (b, s, 64)
            assert np.abs(got - want).max() <= 1e-4 * max(1.0, float(np.abs(want).max()))
