"""Engine vs. oracle on the generated models: max|a - b| <= 1e-4 * max(1, max|ref|), plus output
shapes and dtypes and the Engine's model description.

These tests need ``sparse_runtime.Engine``; until it lands they fail (on purpose, not skipped).
"""
from __future__ import annotations

import numpy as np
import pytest
from models_testutil import assert_close, bert_feeds, engine_run, initializers, ort_run, randn, ref_run

from sparse_runtime.models import bert_encoder, mlp, resnet50

REPORT_KEYS = {"name", "op", "kernel", "format", "sparsity", "weight_shape", "source_op"}


def check_engine_io(eng, names, shapes, dtypes, out_names):
    assert list(eng.input_names) == names
    assert [tuple(s) for s in eng.input_shapes] == [tuple(s) for s in shapes]
    assert [np.dtype(d) for d in eng.input_dtypes] == [np.dtype(d) for d in dtypes]
    assert list(eng.output_names) == out_names


def check_report(eng, model, expect_sparsity=None, source_op=None):
    """Every lowered layer is described; the reported sparsity and weight shape are the weight's."""
    rep = eng.report()
    assert isinstance(rep, list) and rep, "report() lists no lowered layer"
    for r in rep:
        assert REPORT_KEYS <= set(r), f"report entry misses {REPORT_KEYS - set(r)}: {r}"
        if source_op:
            assert r["source_op"] == source_op
        if expect_sparsity is not None:
            assert r["sparsity"] == pytest.approx(expect_sparsity, abs=0.01), r
    # For MatMul weights weight_shape is (K, N) (docs/architecture.md); the generated MLP and BERT
    # have MatMul weights only; MatMuls reading the same input (Q, K, V) merge into one layer of
    # the same K and the summed N (passes/merge_sibling_matmuls.py), so every weight is in one row.
    inits = initializers(model)
    matmul_w = [inits[n.input[1]].shape for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    shapes = [tuple(r["weight_shape"]) for r in rep]
    assert sum(k * n for k, n in shapes) == sum(k * n for k, n in matmul_w)
    assert {k for k, _ in shapes} == {k for k, _ in matmul_w}
    return rep


# ---- MLP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_engine_mlp_768_3072_90pct(activation):
    m = mlp(hidden=768, ffn=3072, tokens=128, sparsity=0.9, activation=activation)
    x = randn((128, 768))
    ref = ref_run(m, {"x": x})[0]
    eng, out = engine_run(m, {"x": x})
    check_engine_io(eng, ["x"], [(128, 768)], [np.float32], ["y"])
    assert isinstance(out, list) and len(out) == 1
    assert_close(out[0], ref)
    rep = check_report(eng, m, expect_sparsity=0.9, source_op="MatMul")
    # 90 % unstructured is the case sparse kernels exist for: at least one layer must use one.
    assert any(r["format"] != "dense" for r in rep), rep
    # run is repeatable and accepts a positional list too
    assert_close(eng.run([x])[0], ref)


@pytest.mark.parametrize("pattern,s", [("4x1", 0.8), ("1x4", 0.8), ("2:4", 0.5), ("unstructured", 0.0),
                                       ("unstructured", 0.95)])
def test_engine_mlp_patterns(pattern, s):
    m = mlp(hidden=768, ffn=3072, tokens=128, sparsity=s, pattern=pattern)
    x = randn((128, 768), seed=1)
    eng, out = engine_run(m, {"x": x})
    assert_close(out[0], ref_run(m, {"x": x})[0])
    check_report(eng, m, expect_sparsity=s)


def test_engine_mlp_single_thread_and_odd_tokens():
    m = mlp(hidden=96, ffn=200, tokens=7, sparsity=0.9)
    x = randn((7, 96))
    _, out = engine_run(m, {"x": x}, threads=1)
    assert_close(out[0], ref_run(m, {"x": x})[0])


# ---- BERT ----------------------------------------------------------------------------------------
def test_engine_bert_base_12_layers_seq128(bert_base):
    feeds = bert_feeds(1, 128, 30522)  # last 32 tokens padded
    ref = ref_run(bert_base, feeds)[0]
    eng, out = engine_run(bert_base, feeds)
    check_engine_io(eng, ["input_ids", "attention_mask"], [(1, 128), (1, 128)], [np.int64, np.int64],
                    ["last_hidden_state"])
    assert len(out) == 1
    assert_close(out[0], ref)
    rep = check_report(eng, bert_base, expect_sparsity=0.9)
    assert len(rep) == 48  # 12 blocks x (Q·K·V merged, output, FFN in, FFN out)


@pytest.mark.parametrize("kw", [dict(layernorm="fused", mask="where", token_type_ids=True),
                                dict(pattern="4x1", sparsity=0.8), dict(embeddings=False)],
                         ids=["fused-where-tt", "4x1", "no-embeddings"])
def test_engine_bert_small_variants(kw):
    m = bert_encoder(layers=2, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=100, **kw)
    if kw.get("embeddings", True):
        feeds = bert_feeds(2, 16, 100, token_type_ids=kw.get("token_type_ids", False))
    else:
        feeds = {"hidden_states": randn((2, 16, 64)), "attention_mask": bert_feeds(2, 16, 100)["attention_mask"]}
    _, out = engine_run(m, feeds)
    assert_close(out[0], ref_run(m, feeds)[0])


def test_engine_bert_symbolic_dims():
    m = bert_encoder(layers=2, hidden=64, heads=4, ffn=128, seq=16, batch=1, vocab=100, symbolic=True)
    feeds = bert_feeds(3, 24, 100)
    _, out = engine_run(m, feeds)
    assert out[0].shape == (3, 24, 64)
    assert_close(out[0], ref_run(m, feeds)[0])


# ---- ResNet --------------------------------------------------------------------------------------
def test_engine_resnet50_224_vs_onnxruntime(resnet50_224):
    pytest.importorskip("onnxruntime")
    x = randn((1, 3, 224, 224))
    ref = ort_run(resnet50_224, {"input": x})[0]
    eng, out = engine_run(resnet50_224, {"input": x})
    check_engine_io(eng, ["input"], [(1, 3, 224, 224)], [np.float32], ["output"])
    assert_close(out[0], ref)
    rep = eng.report()
    assert len(rep) == 54  # 53 convs + the classifier Gemm
    assert sum(r["source_op"] == "Conv" for r in rep) == 53


@pytest.mark.parametrize("kw", [dict(), dict(fold_bn=True), dict(pattern="4x1", sparsity=0.8)],
                         ids=["bn", "folded", "4x1"])
def test_engine_resnet50_64px_vs_reference(kw):
    m = resnet50(batch=2, image=64, **kw)
    x = randn((2, 3, 64, 64))
    _, out = engine_run(m, {"input": x})
    assert_close(out[0], ref_run(m, {"input": x})[0])
