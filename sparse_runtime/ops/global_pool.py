"""GlobalAveragePool / GlobalMaxPool / GlobalLpPool: reduce all spatial dims, keep them as 1."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr
from .registry import register


def _global(reduce):
    def factory(node, ctx):
        p = attr(node, "p", 2, int) if node.op_type == "GlobalLpPool" else None

        def kernel(inputs):
            x = inputs[0]
            if x.ndim < 3:
                raise OpError(node, f"expected input (N, C, spatial...), got shape {x.shape}")
            axes = tuple(range(2, x.ndim))
            return [reduce(x, axes, p).astype(x.dtype, copy=False)]

        return kernel

    return factory


def _mean(x, axes, p):
    return np.mean(x, axis=axes, keepdims=True)


def _max(x, axes, p):
    return np.max(x, axis=axes, keepdims=True)


def _lp(x, axes, p):
    return np.sum(np.abs(x) ** p, axis=axes, keepdims=True) ** (1.0 / p)


register("GlobalAveragePool", since=1, dtypes=FLOATS)(_global(_mean))
register("GlobalMaxPool", since=1, dtypes=FLOATS)(_global(_max))
register("GlobalLpPool", since=2, dtypes=FLOATS)(_global(_lp))
