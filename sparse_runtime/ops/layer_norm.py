"""LayerNormalization (opset 17): normalise over axes [axis, rank).

Optional outputs Mean and InvStdDev have shape X.shape[:axis] + [1]*(rank-axis). Statistics are
computed in the stash type (float32 by default), so float16 inputs are upcast first.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from .. import kernels
from ..errors import OpError
from ._util import FLOATS, attr, node_has_output, norm_axis, opt
from .registry import register


def _vector_of(a, n):
    """True when `a` is float32 holding exactly n values along the last axis (broadcast-free)."""
    return a is not None and a.dtype == np.float32 and a.size == n and a.shape[-1] == n


@register("LayerNormalization", since=17, dtypes=FLOATS)
def layer_norm(node, ctx):
    axis = attr(node, "axis", -1, int)
    eps = attr(node, "epsilon", 1e-5, float)
    stash = attr(node, "stash_type", TensorProto.FLOAT, int)
    try:
        stash_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(stash))
    except (KeyError, TypeError, ValueError):
        raise OpError(node, f"unsupported stash_type {stash}") from None
    if stash_dtype.kind != "f":
        raise OpError(node, f"stash_type must be a float type, got {stash_dtype}")
    want_stats = node_has_output(node, 1) or node_has_output(node, 2)

    def kernel(inputs):
        x, scale, bias = inputs[0], inputs[1], opt(inputs, 2)
        ax = norm_axis(node, axis, x.ndim)
        if (not want_stats and ax == x.ndim - 1 and x.dtype == np.float32 and x.size
                and _vector_of(scale, x.shape[-1]) and (bias is None or _vector_of(bias, x.shape[-1]))):
            # Common transformer case: one float32 row norm per token, on the native kernels.
            return [kernels.layernorm(x, scale.reshape(-1), None if bias is None else bias.reshape(-1), eps)]
        axes = tuple(range(ax, x.ndim))
        xs = x if x.dtype == stash_dtype else x.astype(stash_dtype)
        mean = np.mean(xs, axis=axes, keepdims=True)
        d = xs - mean
        var = np.mean(np.square(d), axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + eps)
        d *= inv
        y = d.astype(x.dtype, copy=False)
        y *= scale
        if bias is not None:
            y += bias
        if not want_stats:
            return [y]
        return [y, mean, inv]

    return kernel
