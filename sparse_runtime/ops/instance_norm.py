"""InstanceNormalization: per (n, c) mean/variance over the spatial dims, then scale[c], B[c]."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr
from .registry import register


@register("InstanceNormalization", since=1, dtypes=FLOATS)
def instance_norm(node, ctx):
    eps = attr(node, "epsilon", 1e-5, float)

    def kernel(inputs):
        x, scale, bias = inputs
        if x.ndim < 3:
            raise OpError(node, f"expected input (N, C, spatial...), got shape {x.shape}")
        axes = tuple(range(2, x.ndim))
        shape = (x.shape[1],) + (1,) * (x.ndim - 2)
        mean = np.mean(x, axis=axes, keepdims=True)
        d = x - mean
        var = np.mean(np.square(d), axis=axes, keepdims=True)
        d *= (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        d *= scale.reshape(shape)
        d += bias.reshape(shape)
        return [d]

    return kernel
