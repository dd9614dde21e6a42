"""Attention (opset 23+): softmax(Q·Kᵀ·scale + bias)·V with the ONNX options.

Q is (B, Hq, Lq, E) or 3-D (B, Lq, Hq·E) with ``q_num_heads``/``kv_num_heads`` given; K/V alike
with Hkv heads (grouped-query attention when Hq is a multiple of Hkv: each KV head serves
Hq/Hkv consecutive query heads). The additive bias combines ``attn_mask`` (bool: True = attend,
or float, padded with -inf/False up to the key length), ``is_causal`` (bottom-right aligned:
query i sees key j iff j <= i + offset, offset = past length or nonpad_kv_seqlen - Lq),
the sliding window (opset 25 ``left/right_window_size``) and ``nonpad_kv_seqlen``.
``softcap`` squashes logits with c·tanh(x/c) before the bias so -inf stays -inf.
A row with no attendable key yields 0, never NaN. Output 3 (``qk_matmul_output``) is chosen by
``qk_matmul_output_mode``: 0/1 QKᵀ (softcapped if softcap is set), 2 after the bias, 3 after
softmax — what onnx's reference and its generated tests do.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..errors import OpError
from ._util import FLOATS, attr, node_has_output, opt
from .registry import register


def _to_heads(x, heads):
    b, l, hidden = x.shape
    return x.reshape(b, l, heads, hidden // heads).transpose(0, 2, 1, 3)


def _allowed_band(lq, lk, offset, left, right, causal):
    """Boolean (…, Lq, Lk) of keys a query may see; offset scalar or per batch (B,)."""
    i = np.arange(lq).reshape(lq, 1)
    j = np.arange(lk).reshape(1, lk)
    off = np.asarray(offset).reshape(-1, 1, 1, 1) if np.ndim(offset) else int(offset)
    diff = (i + off) - j  # query position minus key position
    ok = np.ones(np.shape(diff), bool)
    if causal:
        ok &= diff >= 0
    if left >= 0:
        ok &= diff <= left
    if right >= 0:
        ok &= -diff <= right
    return ok


@register("Attention", since=23, dtypes=FLOATS)
def attention(node, ctx):
    scale_attr = attr(node, "scale", None, float)
    causal = bool(attr(node, "is_causal", 0, int))
    q_heads = attr(node, "q_num_heads", None, int)
    kv_heads = attr(node, "kv_num_heads", None, int)
    softcap = attr(node, "softcap", 0.0, float)
    mode = attr(node, "qk_matmul_output_mode", 0, int, choices=(0, 1, 2, 3))
    left = attr(node, "left_window_size", -1, int)
    right = attr(node, "right_window_size", -1, int)
    precision = attr(node, "softmax_precision", None, int)
    soft_dtype = None if precision is None else np.dtype(helper.tensor_dtype_to_np_dtype(precision))
    want_qk = node_has_output(node, 3)

    def kernel(inputs):
        q, k, v = inputs[0], inputs[1], inputs[2]
        mask, past_k, past_v, nonpad = (opt(inputs, i) for i in (3, 4, 5, 6))
        if (past_k is None) != (past_v is None):
            raise OpError(node, "past_key and past_value must be given together")
        dt = q.dtype
        three_d = q.ndim == 3
        if three_d:
            if q_heads is None or kv_heads is None:
                raise OpError(node, "3-D inputs need the q_num_heads and kv_num_heads attributes")
            q, k, v = _to_heads(q, q_heads), _to_heads(k, kv_heads), _to_heads(v, kv_heads)
        elif q.ndim != 4:
            raise OpError(node, f"Q must be 3-D or 4-D, got shape {q.shape}")
        if past_k is not None:
            k = np.concatenate([past_k, k], axis=2)
            v = np.concatenate([past_v, v], axis=2)
        present_k, present_v = k, v
        lq, lk = q.shape[2], k.shape[2]

        # Additive bias, broadcastable to (B, H, Lq, Lk).
        bias = np.zeros((lq, lk), dt)
        if mask is not None:
            pad = lk - mask.shape[-1]
            if pad > 0:
                mask = np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, pad)],
                              constant_values=False if mask.dtype == np.bool_ else -np.inf)
            if mask.dtype == np.bool_:
                mask = np.where(mask, dt.type(0), dt.type(-np.inf))
            bias = bias + mask.astype(dt, copy=False)
        if causal or left >= 0 or right >= 0:
            if past_k is None and nonpad is not None:
                offset = nonpad.reshape(-1) - lq
            else:
                offset = past_k.shape[2] if past_k is not None else 0
            band = _allowed_band(lq, lk, offset, left, right, causal)
            bias = bias + np.where(band, dt.type(0), dt.type(-np.inf))
        if nonpad is not None:
            keep = np.arange(lk) < nonpad.reshape(-1, 1)
            bias = bias + np.where(keep, dt.type(0), dt.type(-np.inf)).reshape(-1, 1, 1, lk)

        hq, hk = q.shape[1], k.shape[1]
        if hq != hk:
            if hq % hk:
                raise OpError(node, f"query heads {hq} must be a multiple of key/value heads {hk}")
            k = np.repeat(k, hq // hk, axis=1)
            v = np.repeat(v, hq // hk, axis=1)

        # Scale both factors by sqrt(scale), as the ONNX function body does, for equal rounding.
        s = dt.type(np.sqrt(scale_attr if scale_attr is not None else 1 / np.sqrt(q.shape[3])))
        qk = np.matmul(q * s, np.swapaxes(k, -1, -2) * s)
        if softcap > 0:
            qk = np.tanh(qk / dt.type(softcap)) * dt.type(softcap)
        qk_out = qk
        logits = qk + bias
        if mode == 2:
            qk_out = logits
        if soft_dtype is not None:
            logits = logits.astype(soft_dtype)
        dead = np.isneginf(np.max(bias, axis=-1, keepdims=True))  # rows with no attendable key
        m = np.max(logits, axis=-1, keepdims=True)
        e = np.exp(logits - np.where(np.isneginf(m), 0, m))
        total = e.sum(axis=-1, keepdims=True)
        probs = e / np.where(total == 0, 1, total)
        probs = np.where(dead, probs.dtype.type(0), probs).astype(dt, copy=False)
        if mode == 3:
            qk_out = probs
        y = np.matmul(probs, v)
        if three_d:
            y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], lq, -1)
        out = [y, present_k, present_v]
        if want_qk:
            out.append(np.ascontiguousarray(qk_out.astype(dt, copy=False)))
        return out

    return kernel
