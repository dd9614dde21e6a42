"""Range: start + i*delta for i < max(ceil((limit - start) / delta), 0); dtype of start."""
from __future__ import annotations

import math

import numpy as np

from ..errors import OpError
from .registry import register


@register("Range", since=11, dtypes=("float32", "float64", "int16", "int32", "int64"))
def range_(node, ctx):
    def kernel(inputs):
        start, limit, delta = (np.asarray(v).reshape(-1) for v in inputs)
        if not start.size == limit.size == delta.size == 1:
            raise OpError(node, "start, limit and delta must be scalars")
        dtype = start.dtype
        s, l, d = start[0], limit[0].astype(dtype), delta[0].astype(dtype)
        if d == 0:
            raise OpError(node, "delta must be nonzero")
        if dtype.kind in "iu":
            return [np.arange(int(s), int(l), int(d), dtype=dtype)]
        # count in the input precision, as the spec's formula does
        n = max(int(math.ceil(float((l - s) / d))), 0)
        return [(s + np.arange(n, dtype=dtype) * d).astype(dtype, copy=False)]

    return kernel
