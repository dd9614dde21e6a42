"""BatchNormalization, inference form: y = (x - mean) / sqrt(var + eps) * scale + B, folded into
one multiply-add per element. Parameters are per channel (axis 1); with the pre-opset-9
``spatial=0`` form they are shaped like X[1:] and broadcast as-is.

Old attributes (is_test, spatial, consumed_inputs, momentum) are accepted; training mode
(opset 14+ training_mode=1) is rejected. Extra outputs of old opsets (running mean/var,
saved stats) are returned from the given statistics, as in inference they are unchanged.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr
from .registry import register


@register("BatchNormalization", since=1, dtypes=FLOATS)
def batch_norm(node, ctx):
    eps = attr(node, "epsilon", 1e-5, float)
    attr(node, "momentum", 0.9, float)
    spatial = attr(node, "spatial", 1, int, choices=(0, 1))
    if attr(node, "training_mode", 0, int, choices=(0, 1)):
        raise OpError(node, "training_mode=1 is not supported (inference runtime)")
    n_out = len(node.outputs)

    def kernel(inputs):
        x, scale, bias, mean, var = inputs[:5]
        if x.ndim < 2:
            raise OpError(node, f"expected X (N, C, ...), got shape {x.shape}")
        C = x.shape[1]
        per_channel = spatial == 1 or scale.ndim == 1
        if per_channel and any(p.shape != (C,) for p in (scale, bias, mean, var)):
            raise OpError(node, f"scale/B/mean/var must have shape ({C},), got "
                                f"{[p.shape for p in (scale, bias, mean, var)]}")
        # fold into a*x + b; the parameter math is tiny so do it in the input precision
        a = (scale / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        b = (bias - mean * a).astype(x.dtype, copy=False)
        if per_channel:
            shape = (C,) + (1,) * (x.ndim - 2)
            a, b = a.reshape(shape), b.reshape(shape)
        y = x * a
        y += b
        if n_out == 1:
            return [y]
        inv_std = (1.0 / np.sqrt(var + eps)).astype(var.dtype, copy=False)
        return [y, mean, var, mean, inv_std][:n_out]

    return kernel
