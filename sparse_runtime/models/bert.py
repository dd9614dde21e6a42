"""BERT-base-shaped encoder in the node patterns torch.onnx.export (TorchScript, opset 17) emits
for Hugging Face ``BertModel``: Gather embeddings, decomposed LayerNorm, Linear as MatMul + Add
(bias first), heads split through Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains and
Transpose, Q.K^T / sqrt(d) + extended mask, Softmax, GELU (erf form), residual Adds.
"""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto

from ._builder import DEFAULT_IR_VERSION, DEFAULT_OPSET, GraphBuilder, dim, pruned, randn
from .mlp import gelu_erf, linear

FLOAT32_MIN = -3.4028234663852886e38  # torch.finfo(torch.float32).min, HF's mask fill value


def _layernorm(b: GraphBuilder, x: str, gamma: np.ndarray, beta: np.ndarray, prefix: str,
               eps: float, style: str, out=None) -> str:
    g = b.init(prefix.strip("/").replace("/", ".") + ".weight", gamma)
    bt = b.init(prefix.strip("/").replace("/", ".") + ".bias", beta)
    if style == "fused":
        return b.op("LayerNormalization", [x, g, bt], prefix + "/LayerNormalization", out=out,
                    axis=-1, epsilon=float(eps))
    # torch's decomposition (opset < 17 exporter path, still common in the wild).
    mean = b.reduce_mean(x, [-1], prefix + "/ReduceMean")
    sub = b.op("Sub", [x, mean], prefix + "/Sub")
    pw = b.op("Pow", [sub, b.const(prefix + "/Constant", 2.0)], prefix + "/Pow")
    var = b.reduce_mean(pw, [-1], prefix + "/ReduceMean_1")
    add = b.op("Add", [var, b.const(prefix + "/Constant_1", eps)], prefix + "/Add")
    sq = b.op("Sqrt", [add], prefix + "/Sqrt")
    div = b.op("Div", [sub, sq], prefix + "/Div")
    mul = b.op("Mul", [div, g], prefix + "/Mul")
    return b.op("Add", [mul, bt], prefix + "/Add_1", out=out)


def _shape_dims(b: GraphBuilder, x: str, axes, prefix: str) -> list:
    """Shape(x) -> Gather(axis i) -> Unsqueeze(0) per axis: the exporter's ``x.size(i)`` chain."""
    shp = b.op("Shape", [x], prefix + "/Shape")
    outs = []
    for i in axes:
        g = b.op("Gather", [shp, b.const(prefix + "/Constant", i, np.int64)], prefix + "/Gather", axis=0)
        outs.append(b.unsqueeze(g, [0], prefix + "/Unsqueeze"))
    return outs


def _split_heads(b: GraphBuilder, x: str, heads: int, dh: int, prefix: str, perm) -> str:
    """x.view(B, S, heads, dh).permute(...)"""
    d0, d1 = _shape_dims(b, x, (0, 1), prefix)
    shape = b.op("Concat", [d0, d1, b.const(prefix + "/Constant", [heads], np.int64),
                            b.const(prefix + "/Constant", [dh], np.int64)], prefix + "/Concat", axis=0)
    r = b.op("Reshape", [x, shape], prefix + "/Reshape")
    return b.op("Transpose", [r], prefix + "/Transpose", perm=list(perm))


def _extended_mask(b: GraphBuilder, mask: str, style: str) -> str:
    """attention_mask[:, None, None, :] turned into an additive float mask (0 or float32 min)."""
    u = b.unsqueeze(mask, [1], "/Unsqueeze")
    u = b.unsqueeze(u, [2], "/Unsqueeze")
    c = b.op("Cast", [u], "/Cast", to=TensorProto.FLOAT)
    inv = b.op("Sub", [b.const("/Constant", 1.0), c], "/Sub")
    if style == "mul":  # (1.0 - mask) * torch.finfo(float32).min  (transformers < 4.36)
        return b.op("Mul", [inv, b.const("/Constant", FLOAT32_MIN)], "/Mul")
    # inverted.masked_fill(inverted.to(bool), finfo.min)  (transformers >= 4.36)
    cond = b.op("Cast", [inv], "/Cast", to=TensorProto.BOOL)
    return b.op("Where", [cond, b.const("/Constant", FLOAT32_MIN), inv], "/Where")


def bert_encoder(layers: int = 12, hidden: int = 768, heads: int = 12, ffn: int = 3072,
                 seq: int = 128, batch: int = 1, sparsity: float = 0.9,
                 pattern: str = "unstructured", seed: int = 0, symbolic: bool = False,
                 embeddings: bool = True, *, vocab: int = 30522, max_position: int = 512,
                 type_vocab: int = 2, token_type_ids: bool = False,
                 layernorm: str = "decomposed", mask: str = "mul", eps: float = 1e-12,
                 opset: int = DEFAULT_OPSET, ir_version: int = DEFAULT_IR_VERSION) -> onnx.ModelProto:
    """A BERT encoder (default: BERT-base, 12 x 768, 12 heads, FFN 3072, seq 128, batch 1).

    Inputs: ``input_ids`` int64 [batch, seq], ``attention_mask`` int64 [batch, seq] and, with
    ``token_type_ids=True``, ``token_type_ids`` int64 [batch, seq] (otherwise zeros from a buffer,
    as HF does). With ``embeddings=False`` the Gather/LayerNorm embedding block is left out and the
    first input is ``hidden_states`` float32 [batch, seq, hidden]. ``symbolic=True`` writes the
    dims as ``batch`` and ``sequence``. Output: ``last_hidden_state`` float32 [batch, seq, hidden].

    The six Linear weights of each layer (Q, K, V, attention output, FFN in, FFN out; [in, out]
    MatMul layout) are pruned with ``prune.magnitude_mask(sparsity, pattern)`` and rescaled to keep
    their energy; embeddings and LayerNorms are dense. Init follows BERT (std 0.02) except Q and K
    (std 0.04) so that attention scores are O(1) and softmax is not trivially uniform.

    ``layernorm``: ``"decomposed"`` (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) or
    ``"fused"`` (LayerNormalization, opset >= 17). ``mask``: ``"mul"`` ((1 - m) * float32 min) or
    ``"where"`` (Where on the inverted mask).
    """
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
    if layernorm not in ("decomposed", "fused"):
        raise ValueError(f"layernorm must be 'decomposed' or 'fused', got {layernorm!r}")
    if layernorm == "fused" and opset < 17:
        raise ValueError("layernorm='fused' needs opset >= 17 (LayerNormalization)")
    if mask not in ("mul", "where"):
        raise ValueError(f"mask must be 'mul' or 'where', got {mask!r}")
    max_position = max(max_position, seq)
    dh = hidden // heads
    rng = np.random.default_rng(seed)

    def ln_params():
        return (1.0 + randn(rng, (hidden,), 0.05)).astype(np.float32), randn(rng, (hidden,), 0.02)

    b = GraphBuilder(opset)
    B = dim(batch, "batch" if symbolic else None)
    S = dim(seq, "sequence" if symbolic else None)

    # ---- inputs & embeddings ----------------------------------------------------------------
    if embeddings:
        ids = b.input("input_ids", TensorProto.INT64, [B, S])
        am = b.input("attention_mask", TensorProto.INT64, [B, S])
        tt = b.input("token_type_ids", TensorProto.INT64, [B, S]) if token_type_ids else None
        word = b.init("embeddings.word_embeddings.weight", randn(rng, (vocab, hidden), 0.02))
        pos_t = b.init("embeddings.position_embeddings.weight", randn(rng, (max_position, hidden), 0.02))
        tt_t = b.init("embeddings.token_type_embeddings.weight", randn(rng, (type_vocab, hidden), 0.02))
        (useq,) = _shape_dims(b, ids, (1,), "/embeddings")
        zero = b.const("/embeddings/Constant", [0], np.int64)
        one = b.const("/embeddings/Constant", [1], np.int64)
        if tt is None:  # self.token_type_ids[:, :seq].expand(B, seq)
            buf = b.init("embeddings.token_type_ids", np.zeros((1, max_position), np.int64))
            sl = b.op("Slice", [buf, zero, useq, one, one], "/embeddings/Slice")
            tt = b.op("Expand", [sl, b.op("Shape", [ids], "/embeddings/Shape")], "/embeddings/Expand")
        pos_buf = b.init("embeddings.position_ids", np.arange(max_position, dtype=np.int64)[None, :])
        pos_ids = b.op("Slice", [pos_buf, zero, useq, one, one], "/embeddings/Slice")
        e = b.op("Gather", [word, ids], "/embeddings/word_embeddings/Gather")
        t = b.op("Gather", [tt_t, tt], "/embeddings/token_type_embeddings/Gather")
        e = b.op("Add", [e, t], "/embeddings/Add")
        p = b.op("Gather", [pos_t, pos_ids], "/embeddings/position_embeddings/Gather")
        e = b.op("Add", [e, p], "/embeddings/Add")
        gamma, beta = ln_params()
        x = _layernorm(b, e, gamma, beta, "/embeddings/LayerNorm", eps, layernorm)
    else:
        x = b.input("hidden_states", TensorProto.FLOAT, [B, S, hidden])
        am = b.input("attention_mask", TensorProto.INT64, [B, S])

    ext = _extended_mask(b, am, mask)

    # ---- encoder layers ---------------------------------------------------------------------
    def lin_w(n_in, n_out, std):
        return pruned(randn(rng, (n_in, n_out), std), sparsity, pattern, "KN"), randn(rng, (n_out,), 0.02)

    for i in range(layers):
        L = f"/encoder/layer.{i}"
        P = f"encoder.layer.{i}"
        wq, bq = lin_w(hidden, hidden, 0.04)
        wk, bk = lin_w(hidden, hidden, 0.04)
        wv, bv = lin_w(hidden, hidden, 0.02)
        wo, bo = lin_w(hidden, hidden, 0.02)
        w1, b1 = lin_w(hidden, ffn, 0.02)
        w2, b2 = lin_w(ffn, hidden, 0.02)
        g1, be1 = ln_params()
        g2, be2 = ln_params()

        A = L + "/attention/self"
        q = linear(b, x, wq, bq, f"{P}.attention.self.query")
        k = linear(b, x, wk, bk, f"{P}.attention.self.key")
        v = linear(b, x, wv, bv, f"{P}.attention.self.value")
        qh = _split_heads(b, q, heads, dh, A + "/query", (0, 2, 1, 3))
        # key.view(...).permute(0,2,1,3).transpose(-1,-2): the exporter fuses both transposes.
        kT = _split_heads(b, k, heads, dh, A + "/key", (0, 2, 3, 1))
        vh = _split_heads(b, v, heads, dh, A + "/value", (0, 2, 1, 3))
        s = b.op("MatMul", [qh, kT], A + "/MatMul")
        s = b.op("Div", [s, b.const(A + "/Constant", math.sqrt(dh))], A + "/Div")
        s = b.op("Add", [s, ext], A + "/Add")
        pr = b.op("Softmax", [s], A + "/Softmax", axis=-1)
        c = b.op("MatMul", [pr, vh], A + "/MatMul_1")
        c = b.op("Transpose", [c], A + "/Transpose", perm=[0, 2, 1, 3])
        d0, d1 = _shape_dims(b, c, (0, 1), A)
        shp = b.op("Concat", [d0, d1, b.const(A + "/Constant", [hidden], np.int64)], A + "/Concat", axis=0)
        c = b.op("Reshape", [c, shp], A + "/Reshape")

        o = linear(b, c, wo, bo, f"{P}.attention.output.dense")
        o = b.op("Add", [o, x], L + "/attention/output/Add")
        x = _layernorm(b, o, g1, be1, L + "/attention/output/LayerNorm", eps, layernorm)

        h = linear(b, x, w1, b1, f"{P}.intermediate.dense")
        h = gelu_erf(b, h, L + "/intermediate/intermediate_act_fn")
        h = linear(b, h, w2, b2, f"{P}.output.dense")
        h = b.op("Add", [h, x], L + "/output/Add")
        last = i == layers - 1
        x = _layernorm(b, h, g2, be2, L + "/output/LayerNorm", eps, layernorm,
                       out="last_hidden_state" if last else None)

    if layers == 0:
        x = b.op("Identity", [x], "/Identity", out="last_hidden_state")
    b.output("last_hidden_state", TensorProto.FLOAT, [B, S, hidden])
    return b.model(
        f"bert_{layers}x{hidden}_{pattern}_{sparsity}", ir_version,
        doc=(f"sparse_runtime.models.bert_encoder(layers={layers}, hidden={hidden}, heads={heads}, ffn={ffn}, "
             f"seq={seq}, batch={batch}, sparsity={sparsity}, pattern={pattern!r}, seed={seed}, "
             f"symbolic={symbolic}, embeddings={embeddings}, vocab={vocab}, layernorm={layernorm!r}, mask={mask!r})"),
    )
