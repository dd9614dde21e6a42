"""FusedAttention (domain sparse_runtime): Y = softmax(s · Q·Kᵀ [+ mask]) · V over the last axis,
produced by passes/fuse_attention.py from the MatMul / scale / Add / Softmax / MatMul pattern.

Inputs ``[Q, Kᵀ, V, mask or "", factors...]`` (Kᵀ as the graph had it, numpy broadcasting over the
batch dims); ``s = scale · Π factor**power`` with ``scale`` and ``factor_powers`` attributes and
one-element runtime factors. ``heads_last=1`` means the node also absorbed the Transpose with
perm [0, 2, 1, 3] that merges heads back (the result comes out as [batch, tokens, heads, dv],
contiguous, so the merging Reshape is a view). ``axis`` / ``legacy_softmax`` are the Softmax's (checked at run time:
an axis that turns out not to be the last one gets the original, slow, semantics). float32 runs on
one fused native kernel (``kernels.attention``: per head and query tile, scores never leave the
task's scratch, head-split views read in place); shapes it does not take (rank > 4, a mask
broadcast along keys) go through native matmul and softmax separately. Other float types run the
same formula in numpy.

With a ``qkv`` attribute (passes/fuse_attention_heads.py) the inputs are ``[X, "", "", mask]``: the
packed projection whose Split / Reshape / Transpose head split the node absorbed. The kernel
reads the heads from X in place (``kernels.attention_qkv``) when X and the recorded shapes fit;
otherwise it runs the absorbed nodes, then the attention as above.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._util import FLOATS
from ..ir import Graph
from .registry import OpContext, compile_node, register


def _numpy_softmax(x, axis=-1):
    e = np.subtract(x, np.max(x, axis=axis, keepdims=True))
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _softmax_not_last(x, axis, legacy):
    """The Softmax the pattern had, when its axis turned out not to be the last one at run time."""
    if legacy:  # opset < 13: rows are the flattened dims from `axis` on
        rows = int(np.prod(x.shape[:axis]))
        return _numpy_softmax(x.reshape(rows, -1), 1).reshape(x.shape)
    return _numpy_softmax(x, axis)


@register("FusedAttention", domain="sparse_runtime", native=True, dtypes=FLOATS)
def fused_attention(node, ctx):
    scale = float(node.attrs.get("scale", 1.0))
    powers = [int(p) for p in node.attrs.get("factor_powers", [])]
    axis = int(node.attrs.get("axis", -1))
    legacy = bool(node.attrs.get("legacy_softmax", 0))
    heads_last = bool(node.attrs.get("heads_last", 0))
    if len(node.inputs) != 4 + len(powers):
        raise OpError(node, f"expected {4 + len(powers)} inputs (Q, Kᵀ, V, mask, {len(powers)} factors), "
                            f"got {len(node.inputs)}")

    native = kernels.attention_unchecked
    direct = not powers and axis == -1  # the usual node: one call, no Python-side checks
    if "qkv" in node.attrs:
        return _packed_heads(node, ctx, node.attrs["qkv"], scale, heads_last, _attention_kernel(
            node, native, direct, scale, powers, axis, legacy, heads_last))
    return _attention_kernel(node, native, direct, scale, powers, axis, legacy, heads_last)


def _packed_heads(node, ctx, qkv, scale, heads_last, attention):
    """The kernel of a node that absorbed the head split of a packed projection X."""
    heads, head_dim, width = qkv["heads"], qkv["head_dim"], qkv["width"]
    offsets = qkv["offsets"]
    shapes = qkv["shapes"]
    inner = qkv["nodes"]  # Split, then (Reshape, Transpose) for Q, Kᵀ, V
    graph = ctx.graph
    opset = graph.opset if graph is not None else ctx.opset
    consts = Graph(initializers=dict(qkv["consts"]), opsets=dict(graph.opsets) if graph is not None else {"": opset})
    kernels_ = [compile_node(n, OpContext(opset=opset, graph=consts, threads=ctx.threads)) for n in inner]
    native = kernels.attention_qkv_unchecked
    q_off, k_off, v_off = (int(o) for o in offsets)
    merge = qkv.get("merge")  # an absorbed Reshape [B, S, H * D] of the heads-last result
    merged = merge is not None
    merge_kernel = compile_node(merge["node"], OpContext(opset=opset, graph=Graph(
        initializers={merge["node"].inputs[1]: merge["const"]}, opsets=consts.opsets), threads=ctx.threads)) if merged else None
    fits: dict = {}  # X's shape -> whether every Reshape gives [B, S, heads, head_dim] (and [B, S, H * D])

    def reshapes_fit(shape):
        b, s, _ = shape
        if merged:
            t = merge["shape"]
            if not (t[0] in (0, b) and t[1] in (0, -1, s) and t[2] in (-1, heads * head_dim)):
                return False
        return all(t[0] in (0, b) and t[1] in (0, -1, s) for t in shapes)

    def kernel(inputs):
        x, mask = inputs[0], inputs[3]
        # Checks by shape, once per shape; dtype and layout the native call checks itself (as few
        # Python steps as possible: this runs between two kernels, with cold caches).
        shape = getattr(x, "shape", None)
        ok = fits.get(shape)
        if ok is None:
            ok = fits[shape] = (type(x) is np.ndarray and x.ndim == 3 and x.shape[2] == width and x.size > 0
                                and reshapes_fit(x.shape))
        if ok:
            try:
                return [native(x, mask, scale, heads, head_dim, q_off, k_off, v_off, heads_last, merged)]
            except (TypeError, ValueError):
                pass  # another dtype, not contiguous, a mask it does not take: the general path decides
        vals = {inner[0].inputs[0]: x}
        vals.update(qkv["consts"])
        for n, k in zip(inner, kernels_):
            for name, value in zip(n.outputs, k([vals.get(i) if i else None for i in n.inputs])):
                vals[name] = value
        q, kt, v = (vals[t.outputs[0]] for t in inner[2::2])
        y = attention([q, kt, v, mask])
        return merge_kernel([y[0], merge["const"]]) if merged else y

    return kernel



def _attention_kernel(node, native, direct, scale, powers, axis, legacy, heads_last):
    """The kernel for inputs [Q, Kᵀ, V, mask, factors...]."""

    def kernel(inputs):
        if direct:
            try:
                return [native(inputs[0], inputs[1], inputs[2], inputs[3], scale, heads_last)]
            except (TypeError, ValueError):
                pass  # not the native kernel's case: the general path below decides, and words errors
        if not heads_last:
            return [attend(inputs, False)]
        y = attend(inputs, True)
        if y.ndim != 4:
            raise OpError(node, f"heads_last needs a 4-D result (it absorbed a Transpose with perm "
                                f"[0, 2, 1, 3]), got shape {y.shape}")
        return [y]

    def attend(inputs, want_heads_last):
        """The attention result; with ``want_heads_last`` already transposed (0, 2, 1, 3)."""
        def finish(y):
            return y.transpose(0, 2, 1, 3) if want_heads_last and y.ndim == 4 else y

        q, kt, v, mask = inputs[0], inputs[1], inputs[2], inputs[3]
        s = scale
        for f, p in zip(inputs[4:], powers):
            if f is None or f.size != 1:
                raise OpError(node, f"scale factor must hold one value, got shape {getattr(f, 'shape', None)}")
            s *= float(f.reshape(())) ** p
        if q.ndim < 2 or kt.ndim < 2 or v.ndim < 2:
            raise OpError(node, f"Q, Kᵀ and V must be at least 2-D, got {q.shape}, {kt.shape}, {v.shape}")
        dt = q.dtype
        ndim = max(q.ndim, kt.ndim)
        ax = axis + ndim if axis < 0 else axis
        if not 0 <= ax < ndim:
            raise OpError(node, f"softmax axis {axis} out of range for rank-{ndim} scores")
        if ax != ndim - 1:
            scores = np.matmul(q * dt.type(s), kt)
            if mask is not None:
                scores = scores + mask
            return finish(np.matmul(_softmax_not_last(scores, ax, legacy), v).astype(dt, copy=False))
        if dt == np.float32 and kt.dtype == dt and v.dtype == dt and (mask is None or mask.dtype == dt):
            fused = kernels.attention(q, kt, v, mask, s, heads_last=want_heads_last)
            if fused is not None:
                return fused
            if s != 1.0:
                qs = np.empty(q.shape, np.float32)  # C-contiguous, as the native matmul wants it
                np.multiply(q, np.float32(s), out=qs)
            else:
                qs = q
            scores = kernels.matmul(qs, kt)
            del qs
            if mask is not None:
                if np.broadcast_shapes(scores.shape, mask.shape) == scores.shape:
                    scores += mask  # the scores are ours: add in place
                else:
                    scores = scores + mask
            if scores.size == 0:
                return finish(np.matmul(scores, v))
            probs = kernels.softmax(scores)
            del scores
            return finish(kernels.matmul(probs, v))
        scores = np.matmul(q * dt.type(s), kt)
        if mask is not None:
            scores = scores + mask
        return finish(np.matmul(_numpy_softmax(scores), v).astype(dt, copy=False))

    return kernel
