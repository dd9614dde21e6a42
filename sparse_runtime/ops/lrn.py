"""LRN across channels: y = x / (bias + alpha / size * sum of x^2 over a channel window)^beta.
The window is [c - floor((size-1)/2), c + ceil((size-1)/2)], summed as ``size`` shifted slices."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr
from .registry import register


@register("LRN", since=1, dtypes=FLOATS)
def lrn(node, ctx):
    size = attr(node, "size", kind=int)
    if size < 1:
        raise OpError(node, f"size must be >= 1, got {size}")
    alpha = attr(node, "alpha", 1e-4, float)
    beta = attr(node, "beta", 0.75, float)
    bias = attr(node, "bias", 1.0, float)
    lo = (size - 1) // 2
    hi = size - 1 - lo

    def kernel(inputs):
        x = inputs[0]
        if x.ndim < 3:
            raise OpError(node, f"expected input (N, C, spatial...), got shape {x.shape}")
        C = x.shape[1]
        sq = np.square(x)
        padded = np.pad(sq, [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2))
        acc = np.zeros_like(sq)
        for k in range(size):
            acc += padded[:, k:k + C]
        acc *= alpha / size
        acc += bias
        return [x / acc ** beta]

    return kernel
