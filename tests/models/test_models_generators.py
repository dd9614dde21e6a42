"""The generators: valid ONNX (checker, IR 8, opset 17), the node patterns they promise, pruned
weights with exact patterns, and onnxruntime == onnx.reference.ReferenceEvaluator on their output."""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from models_testutil import assert_close, bert_feeds, initializers, ort_run, randn, ref_run

from sparse_runtime.models import bert_encoder, demo_model, mlp, resnet50, sparsity_of

pytest.importorskip("onnxruntime")

SMALL_BERT = dict(layers=2, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=100)
SMALL_RESNET = dict(image=32, stages=((8, 1, 1), (16, 2, 2)), num_classes=10)


def check(model, ir=8, opset=17):
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version == ir
    assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]
    for t in model.graph.initializer:
        assert t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64), t.name


def ops(model):
    return [n.op_type for n in model.graph.node]


def dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def assert_pattern(w, pattern, sparsity, layout):
    """Zeros of a pruned random weight follow the pattern (random weights are never exactly 0)."""
    nz = w != 0
    if layout == "KN":
        c = nz.T[:, None, :]
    else:
        co, ci = w.shape[:2]
        c = nz.transpose(0, 2, 3, 1).reshape(co, -1, ci)
    if pattern == "unstructured":
        assert int((~nz).sum()) == round(sparsity * w.size)
    elif pattern == "4x1":
        b = c.reshape(c.shape[0] // 4, 4, c.shape[1], c.shape[2])
        assert np.all(b.all(1) | ~b.any(1))
        n = b[:, 0].size
        assert int((~b[:, 0]).sum()) == round(sparsity * n)
    elif pattern == "1x4":
        b = c.reshape(c.shape[0], c.shape[1], -1, 4)
        assert np.all(b.all(3) | ~b.any(3))
        n = b[..., 0].size
        assert int((~b[..., 0]).sum()) == round(sparsity * n)
    elif pattern == "2:4":
        assert np.all(c.reshape(c.shape[0], c.shape[1], -1, 4).sum(3) == 2)


# ---- MLP -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["gelu", "relu"])
@pytest.mark.parametrize("pattern,s", [("unstructured", 0.9), ("unstructured", 0.0), ("4x1", 0.8),
                                       ("1x4", 0.8), ("2:4", 0.5)])
def test_mlp_valid_pruned_and_ort_matches_reference(activation, pattern, s):
    m = mlp(hidden=64, ffn=256, tokens=8, sparsity=s, pattern=pattern, activation=activation)
    check(m)
    assert [i.name for i in m.graph.input] == ["x"] and [o.name for o in m.graph.output] == ["y"]
    assert dims(m.graph.input[0]) == [8, 64] and dims(m.graph.output[0]) == [8, 64]
    w = initializers(m)
    assert w["fc1.weight"].shape == (64, 256) and w["fc2.weight"].shape == (256, 64)
    for name in ("fc1.weight", "fc2.weight"):
        assert_pattern(w[name], pattern, s, "KN")
    want = ["MatMul", "Add"] + (["Div", "Erf", "Add", "Mul", "Mul"] if activation == "gelu" else ["Relu"]) + ["MatMul", "Add"]
    assert [o for o in ops(m) if o != "Constant"] == want
    x = randn((8, 64))
    ref = ref_run(m, {"x": x})[0]
    assert ref.shape == (8, 64) and ref.dtype == np.float32
    assert 0.1 < float(np.abs(ref).max()) < 20
    assert_close(ort_run(m, {"x": x})[0], ref)


def test_mlp_symbolic_tokens_and_determinism():
    m = mlp(hidden=32, ffn=64, tokens=8, symbolic=True)
    assert dims(m.graph.input[0]) == ["tokens", 32]
    x = randn((5, 32))
    assert_close(ort_run(m, {"x": x})[0], ref_run(m, {"x": x})[0])
    a = mlp(hidden=32, ffn=64, seed=3).SerializeToString()
    assert a == mlp(hidden=32, ffn=64, seed=3).SerializeToString()
    assert a != mlp(hidden=32, ffn=64, seed=4).SerializeToString()


def test_mlp_bad_activation():
    with pytest.raises(ValueError, match="activation"):
        mlp(hidden=8, ffn=8, activation="swish")


# ---- BERT ----------------------------------------------------------------------------------------
BERT_VARIANTS = [
    dict(),
    dict(layernorm="fused"),
    dict(mask="where"),
    dict(token_type_ids=True),
    dict(pattern="4x1", sparsity=0.8),
    dict(pattern="2:4", sparsity=0.5),
    dict(sparsity=0.0),
    dict(embeddings=False),
    dict(opset=18),
]


@pytest.mark.parametrize("kw", BERT_VARIANTS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_bert_variants_valid_and_ort_matches_reference(kw):
    args = {**SMALL_BERT, **kw}
    opset = args.get("opset", 17)
    m = bert_encoder(**args)
    check(m, opset=opset)
    if args.get("embeddings", True):
        feeds = bert_feeds(2, 16, 100, token_type_ids=args.get("token_type_ids", False))
    else:
        feeds = {"hidden_states": randn((2, 16, 64)), "attention_mask": bert_feeds(2, 16, 100)["attention_mask"]}
    assert [i.name for i in m.graph.input] == list(feeds)
    ref = ref_run(m, feeds)[0]
    assert ref.shape == (2, 16, 64) and ref.dtype == np.float32
    assert 0.5 < float(ref.std()) < 2.0  # post-LayerNorm activations are O(1)
    assert_close(ort_run(m, feeds)[0], ref)


def test_bert_node_patterns_follow_the_torch_exporter():
    m = bert_encoder(**SMALL_BERT)
    c = Counter(ops(m))
    L = SMALL_BERT["layers"]
    assert c["MatMul"] == 8 * L  # 6 Linear + Q.K^T + P.V
    assert c["Softmax"] == L and c["Erf"] == L
    assert c["ReduceMean"] == 2 * (2 * L + 1)  # decomposed LayerNorm: 2 per LN, 2 per layer + embeddings
    assert c["Sqrt"] == 2 * L + 1 and c["Pow"] == 2 * L + 1
    assert c["Gather"] >= 3 and c["Shape"] >= 4 * L and c["Concat"] == 4 * L and c["Reshape"] == 4 * L
    assert "LayerNormalization" not in c
    perms = sorted(tuple(n.attribute[0].ints) for n in m.graph.node if n.op_type == "Transpose")
    assert perms == sorted([(0, 2, 1, 3)] * 3 * L + [(0, 2, 3, 1)] * L)
    softmax_axes = {onnx.helper.get_attribute_value(n.attribute[0]) for n in m.graph.node if n.op_type == "Softmax"}
    assert softmax_axes == {-1}
    # Linear = MatMul with an initializer [in, out], then Add(bias, MatMul) as torch writes it
    inits = initializers(m)
    prod = {o: n for n in m.graph.node for o in n.output}
    weights = [n for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    assert len(weights) == 6 * L
    for n in weights:
        adds = [a for a in m.graph.node if a.op_type == "Add" and n.output[0] in a.input]
        assert len(adds) == 1 and adds[0].input[0] in inits
    # the additive mask: (1 - Cast(mask)) * float32 min
    mul = [n for n in m.graph.node if n.op_type == "Mul" and any(
        prod.get(i) is not None and prod[i].op_type == "Sub" and prod[i].name == "/Sub" for i in n.input)]
    assert len(mul) == 1
    fused = bert_encoder(**SMALL_BERT, layernorm="fused")
    assert Counter(ops(fused))["LayerNormalization"] == 2 * L + 1 and "ReduceMean" not in ops(fused)
    assert "Where" in ops(bert_encoder(**SMALL_BERT, mask="where"))


def test_bert_weights_six_linears_per_layer_pruned_embeddings_dense():
    m = bert_encoder(**SMALL_BERT, sparsity=0.9)
    w = initializers(m)
    for i in range(SMALL_BERT["layers"]):
        for lin, shape in [("attention.self.query", (64, 64)), ("attention.self.key", (64, 64)),
                           ("attention.self.value", (64, 64)), ("attention.output.dense", (64, 64)),
                           ("intermediate.dense", (64, 128)), ("output.dense", (128, 64))]:
            a = w[f"encoder.layer.{i}.{lin}.weight"]
            assert a.shape == shape
            assert_pattern(a, "unstructured", 0.9, "KN")
    for name, a in w.items():
        if "embeddings" in name and a.dtype == np.float32 or "LayerNorm" in name or name.endswith(".bias"):
            assert sparsity_of(a) == 0.0, name


def test_bert_attention_mask_hides_padded_tokens():
    m = bert_encoder(**SMALL_BERT)
    feeds = bert_feeds(2, 16, 100)
    pad = feeds["attention_mask"] == 0
    assert pad.any()
    out1 = ort_run(m, feeds)[0]
    feeds2 = dict(feeds, input_ids=np.where(pad, (feeds["input_ids"] + 7) % 100, feeds["input_ids"]))
    out2 = ort_run(m, feeds2)[0]
    assert_close(out2[~pad], out1[~pad])
    assert not np.allclose(out2[pad], out1[pad])  # padded positions themselves do change


def test_bert_symbolic_dims_run_at_other_sizes():
    m = bert_encoder(**SMALL_BERT, symbolic=True, token_type_ids=True)
    for vi in m.graph.input:
        assert dims(vi) == ["batch", "sequence"]
    assert dims(m.graph.output[0]) == ["batch", "sequence", 64]
    for b, s in [(1, 5), (3, 24)]:
        feeds = bert_feeds(b, s, 100, token_type_ids=True)
        out = ort_run(m, feeds)[0]
        assert out.shape == (b, s, 64)
        assert_close(out, ref_run(m, feeds)[0])


def test_bert_bad_arguments():
    with pytest.raises(ValueError, match="heads"):
        bert_encoder(layers=1, hidden=10, heads=3)
    with pytest.raises(ValueError, match="opset"):
        bert_encoder(layers=1, hidden=8, heads=2, layernorm="fused", opset=13)


def test_bert_base_full_size(bert_base):
    """The 12-layer BERT-base encoder: checker, sizes, O(1) outputs, onnxruntime == reference."""
    check(bert_base)
    w = initializers(bert_base)
    linear = [a for n, a in w.items() if n.startswith("encoder.layer.") and n.endswith("dense.weight")
              or n.endswith(("query.weight", "key.weight", "value.weight"))]
    assert len(linear) == 72 and sum(a.size for a in linear) == 12 * (4 * 768 * 768 + 2 * 768 * 3072)
    assert all(sparsity_of(a) == pytest.approx(0.9, abs=1e-6) for a in linear)
    assert w["embeddings.word_embeddings.weight"].shape == (30522, 768)
    feeds = bert_feeds(1, 128, 30522)
    ref = ref_run(bert_base, feeds)[0]
    assert ref.shape == (1, 128, 768) and 0.5 < float(ref.std()) < 2.0
    assert_close(ort_run(bert_base, feeds)[0], ref)


# ---- ResNet --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(), dict(fold_bn=True), dict(pattern="4x1", sparsity=0.8),
                                dict(pattern="1x4", sparsity=0.8), dict(pattern="2:4", sparsity=0.5),
                                dict(symbolic=True), dict(sparsity=0.0)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
def test_resnet_small_valid_and_ort_matches_reference(kw):
    m = resnet50(**SMALL_RESNET, **kw)
    check(m)
    assert dims(m.graph.input[0]) == ["batch" if kw.get("symbolic") else 1, 3, 32, 32]
    x = randn((2, 3, 32, 32)) if kw.get("symbolic") else randn((1, 3, 32, 32))
    ref = ref_run(m, {"input": x})[0]
    assert ref.shape == (x.shape[0], 10) and ref.dtype == np.float32
    assert 0.01 < float(np.abs(ref).max()) < 100
    assert_close(ort_run(m, {"input": x})[0], ref)
    w = initializers(m)
    for name, a in w.items():
        if a.ndim == 4 and name != "conv1.weight":
            assert_pattern(a, kw.get("pattern", "unstructured"), kw.get("sparsity", 0.9), "OIHW")


def test_resnet_fold_bn_is_the_same_function():
    x = randn((1, 3, 32, 32))
    a = ort_run(resnet50(**SMALL_RESNET), {"input": x})[0]
    b = ort_run(resnet50(**SMALL_RESNET, fold_bn=True), {"input": x})[0]
    assert_close(b, a)


def test_resnet50_structure(resnet50_224):
    m = resnet50_224
    check(m)
    c = Counter(ops(m))
    assert c["Conv"] == 53 and c["BatchNormalization"] == 53 and c["Add"] == 16
    assert c["Relu"] == 49 and c["MaxPool"] == 1 and c["GlobalAveragePool"] == 1 and c["Gemm"] == 1
    w = initializers(m)
    assert w["conv1.weight"].shape == (64, 3, 7, 7) and sparsity_of(w["conv1.weight"]) == 0.0
    assert w["fc.weight"].shape == (1000, 2048) and sparsity_of(w["fc.weight"]) == 0.0
    convs = {n: a for n, a in w.items() if a.ndim == 4 and n != "conv1.weight"}
    assert len(convs) == 52
    for n, a in convs.items():
        assert_pattern(a, "unstructured", 0.9, "OIHW")
    conv_attrs = {n.input[1]: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
                  for n in m.graph.node if n.op_type == "Conv"}
    # torchvision v1.5: the stride sits in the 3x3 conv and in the projection shortcut
    for stage in (2, 3, 4):
        assert conv_attrs[f"layer{stage}.0.conv1.weight"]["strides"] == [1, 1]
        assert conv_attrs[f"layer{stage}.0.conv2.weight"]["strides"] == [2, 2]
        assert conv_attrs[f"layer{stage}.0.downsample.0.weight"]["strides"] == [2, 2]
    assert conv_attrs["conv1.weight"]["strides"] == [2, 2] and conv_attrs["conv1.weight"]["pads"] == [3, 3, 3, 3]
    n_params = sum(a.size for n, a in w.items() if "running" not in n)
    assert 25_000_000 < n_params < 26_000_000  # ResNet-50 has 25.6 M parameters
    out = ort_run(m, {"input": randn((1, 3, 224, 224))})[0]
    assert out.shape == (1, 1000) and np.all(np.isfinite(out))
    assert 0.05 < float(out.std()) < 10  # meaningful logits, neither exploded nor vanished


def test_resnet50_64px_ort_matches_reference():
    m = resnet50(image=64, sparsity=0.9)
    x = randn((1, 3, 64, 64))
    assert_close(ort_run(m, {"input": x})[0], ref_run(m, {"input": x})[0])


# ---- demo model and the benchmark suite ---------------------------------------------------------
def test_demo_model_and_its_dense_twin():
    sp = demo_model(sparsity=0.9, layers=1, seq=32)
    dn = demo_model(sparsity=0.0, layers=1, seq=32)
    assert [i.name for i in sp.graph.input] == ["input_ids", "attention_mask"]
    assert dims(sp.graph.output[0]) == [1, 32, 768]
    ws, wd = initializers(sp), initializers(dn)
    q = "encoder.layer.0.attention.self.query.weight"
    assert ws[q].shape == (768, 768) and sparsity_of(ws[q]) == pytest.approx(0.9, abs=1e-6)
    assert sparsity_of(wd[q]) == 0.0
    nz = ws[q] != 0  # the sparse model is its dense twin, magnitude-pruned (and rescaled)
    ratio = ws[q][nz] / wd[q][nz]
    assert np.allclose(ratio, ratio[0], rtol=1e-5)
    assert np.abs(wd[q][~nz]).max() <= np.abs(wd[q][nz]).min()


def _bench_models():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "models.py"
    spec = importlib.util.spec_from_file_location("benchmarks_models", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_suite_save_all(tmp_path):
    bm = _bench_models()
    names = [c[0] for c in bm.suite_cases()]
    assert len(names) == 18 and len(set(names)) == 18
    assert {(c[2], c[3]) for c in bm.suite_cases()} == {("unstructured", s) for s in (0.0, 0.7, 0.8, 0.9, 0.95)} | {("4x1", 0.8)}
    paths = bm.save_all(str(tmp_path), families=["mlp"])
    assert sorted(Path(p).name for p in paths) == sorted(n for n in names if n.startswith("mlp_"))
    m = onnx.load(str(tmp_path / "mlp_unstructured_95.onnx"))
    assert sparsity_of(initializers(m)["fc1.weight"]) == pytest.approx(0.95, abs=1e-6)
    assert sparsity_of(initializers(onnx.load(str(tmp_path / "mlp_dense.onnx")))["fc1.weight"]) == 0.0
    assert (tmp_path / "manifest.json").exists()
    mtime = (tmp_path / "mlp_dense.onnx").stat().st_mtime_ns
    bm.save_all(str(tmp_path), families=["mlp"])  # existing files are kept
    assert (tmp_path / "mlp_dense.onnx").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="family"):
        bm.suite_cases(["gpt"])
