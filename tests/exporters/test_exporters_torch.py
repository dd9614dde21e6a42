"""Real torch.onnx exports (TorchScript at opsets 11/14/17, dynamo at 18) of small transformer and
CNN modules with dynamic batch/sequence dims: run at several shapes in the Engine and compare with
onnxruntime and torch itself; check what the passes fused and that pruned Linears run sparse."""
from __future__ import annotations

import collections

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from export_models import (TinyCNN, TinyEncoder, TorchEncoderLayer, export, max_rel_err,  # noqa: E402
                           prune_linears, randomize_bn)

from sparse_runtime import Engine  # noqa: E402

TOL = 1e-4
SEQ_DIMS = {"x": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}}
BATCH_DIMS = {"x": {0: "batch"}, "mask": {0: "batch"}}
CASES = [("torchscript", 11), ("torchscript", 14), ("torchscript", 17), ("dynamo", 18)]


def _needs_dynamo(exporter):
    if exporter == "dynamo":
        pytest.importorskip("onnxscript")


def _ort(proto):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _compare(module, proto, eng, feeds_list):
    sess = _ort(proto)
    for feeds in feeds_list:
        got = eng.run(feeds)
        want_ort = sess.run(None, feeds)
        with torch.no_grad():
            want_torch = module(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
        assert len(got) == 1
        y = got[0]
        assert y.dtype == np.float32 and y.shape == want_ort[0].shape == want_torch.shape
        assert max_rel_err(y, want_ort[0]) <= TOL, feeds["x"].shape
        assert max_rel_err(y, want_torch) <= TOL, feeds["x"].shape


def _seq_feeds(shapes, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for b, s in shapes:
        mask = np.ones((b, s), np.float32)
        mask[0, s // 2 + 1:] = 0  # padding in the first sequence
        out.append({"x": rng.standard_normal((b, s, 64)).astype(np.float32), "mask": mask})
    return out


def _ops(eng):
    return collections.Counter(n.op_type for n in eng.graph.nodes)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-opset{c[1]}")
def encoder(request):
    exporter, opset = request.param
    _needs_dynamo(exporter)
    torch.manual_seed(0)
    module = TinyEncoder().eval()
    pruned = prune_linears(module, 0.9)
    x = torch.randn(2, 8, 64)
    proto = export(module, (x, torch.ones(2, 8)), ["x", "mask"], SEQ_DIMS, opset=opset,
                   dynamo=exporter == "dynamo")
    return exporter, opset, module, pruned, proto, Engine(proto)


def test_encoder_matches_ort_and_torch(encoder):
    exporter, opset, module, _, proto, eng = encoder
    assert [d for d in proto.graph.input[0].type.tensor_type.shape.dim if d.dim_param]  # really dynamic
    feeds = _seq_feeds([(1, 16), (3, 7), (2, 33)])
    _compare(module, proto, eng, feeds)
    # Shape arithmetic left in the generic plan (TorchScript) -> one specialised plan per signature.
    sigs = eng.cached_signatures
    assert not sigs or {s[0] for s in sigs} == {f["x"].shape for f in feeds}


def test_encoder_patterns_are_fused(encoder):
    exporter, opset, _, _, _, eng = encoder
    ops = _ops(eng)
    # Attention: MatMul / Div / Add(mask) / Softmax / MatMul -> one node per layer.
    assert ops["FusedAttention"] == 2 and ops["Softmax"] == 0 and ops["MatMul"] == 0
    # LayerNorm: decomposed below opset 17 (-> FusedLayerNorm), LayerNormalization from 17 on.
    assert ops["ReduceMean"] == 0 and ops["Sqrt"] == 0 and ops["Pow"] == 0
    assert ops["FusedLayerNorm" if opset < 17 else "LayerNormalization"] == 4
    # GELU (erf form, in the exporter's own order) and the biases move into the FFN kernels; Q, K
    # and V (three MatMuls of the same input) merge into one layer: 4 packed layers per block.
    assert ops["Erf"] == 0 and ops["PackedMatMul"] == 8
    acts = collections.Counter(r["activation"] for r in eng.report())
    assert acts == {"gelu_erf": 2, "none": 6}
    assert all(r["bias"] for r in eng.report())


def test_encoder_pruned_linears_run_sparse(encoder):
    exporter, opset, module, pruned, proto, eng = encoder
    assert len(pruned) == 12
    rows = eng.report()
    assert len(rows) == 8 and all(abs(r["sparsity"] - 0.9) < 0.01 for r in rows)  # Q, K, V merged
    # Forced CSR (the automatic choice is timed, so it may differ on a busy machine).
    forced = Engine(proto, options={"weight_format": "csr"})
    assert {r["format"] for r in forced.report()} == {"csr"}
    assert all("csr" in r["kernel"] for r in forced.report())
    _compare(module, proto, forced, _seq_feeds([(2, 5)], seed=1))


@pytest.mark.parametrize("exporter,opset", [("torchscript", 14), ("torchscript", 17), ("dynamo", 18)])
def test_torch_transformer_encoder_layer(exporter, opset):
    _needs_dynamo(exporter)
    torch.manual_seed(1)
    module = TorchEncoderLayer().eval()
    prune_linears(module, 0.9, names=["linear"])  # the FFN
    # The TorchScript exporter bakes nn.MultiheadAttention's sequence length into a Reshape
    # (onnxruntime fails on other lengths too): only the batch is dynamic there.
    dynamic = SEQ_DIMS if exporter == "dynamo" else BATCH_DIMS
    shapes = [(1, 16), (3, 7), (2, 33)] if exporter == "dynamo" else [(1, 8), (3, 8), (2, 8)]
    proto = export(module, (torch.randn(2, 8, 64), torch.ones(2, 8)), ["x", "mask"], dynamic, opset=opset,
                   dynamo=exporter == "dynamo")
    eng = Engine(proto)
    _compare(module, proto, eng, _seq_feeds(shapes))
    ops = _ops(eng)
    assert ops["FusedAttention"] == 1 and ops["Softmax"] == 0 and ops["Erf"] == 0 and ops["ReduceMean"] == 0
    if exporter == "torchscript":
        # SDPA's scale comes from Shape(q) at run time here: a runtime factor of the fused node.
        (node,) = [n for n in eng.graph.nodes if n.op_type == "FusedAttention"]
        assert node.attrs["factor_powers"]
    ffn = [r for r in eng.report() if r["sparsity"] > 0.85]
    assert len(ffn) == 2 and sorted(r["activation"] for r in ffn) == ["gelu_erf", "none"]


@pytest.mark.parametrize("exporter,opset", CASES)
def test_cnn(exporter, opset):
    _needs_dynamo(exporter)
    torch.manual_seed(2)
    module = TinyCNN().eval()
    randomize_bn(module)
    prune_linears(module, 0.9, names=["fc1"])
    proto = export(module, (torch.randn(2, 3, 16, 16),), ["x"], {"x": {0: "batch"}}, opset=opset,
                   dynamo=exporter == "dynamo")
    eng = Engine(proto)
    rng = np.random.default_rng(3)
    _compare(module, proto, eng, [{"x": rng.standard_normal((b, 3, 16, 16)).astype(np.float32)} for b in (1, 3)])
    ops = _ops(eng)
    # BatchNorm folded; stem, block (2), depthwise and pointwise convs packed with bias and ReLU.
    assert ops["BatchNormalization"] == 0 and ops["Conv"] == 0 and ops["PackedConv"] == 5
    assert ops["PackedMatMul"] == 2 and ops["Gemm"] == 0 and ops["MatMul"] == 0
    rows = {r["name"]: r for r in eng.report()}
    depthwise = [r for r in eng.graph.nodes if r.op_type == "PackedConv" and r.attrs["group"] == 16]
    assert len(depthwise) == 1 and depthwise[0].attrs["activation"] == "relu"
    fc1 = [r for r in rows.values() if r["op"] == "PackedMatMul" and r["sparsity"] > 0.85]
    assert len(fc1) == 1 and fc1[0]["activation"] == "relu"
