"""GlobalAveragePool / GlobalMaxPool / GlobalLpPool: reduce all spatial dims, keep them as 1.

Inside a blocked region (attribute ``layout="blocked"``, set by passes/keep_blocked_activations.py,
not an ONNX one) the input is a ``BlockedTensor`` (ops/_blocked.py) and the result NCHW."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._blocked import BlockedTensor
from ._util import FLOATS, attr
from .registry import register


def _global(reduce):
    def factory(node, ctx):
        p = attr(node, "p", 2, int) if node.op_type == "GlobalLpPool" else None
        blocked = node.attrs.get("layout") == "blocked"

        def kernel(inputs):
            x = inputs[0]
            if blocked:
                if type(x) is not BlockedTensor:
                    raise OpError(node, f"input '{node.inputs[0]}' must be a BlockedTensor, got {type(x).__name__}")
                n, c = x.shape[:2]
                if reduce is _mean:
                    return [kernels.global_average_pool(x.data, blocked=True, channels=c)]
                # [N, blocks, H, W, 32] -> [N, blocks * 32] -> the real channels, as (N, C, 1, 1)
                y = reduce(x.data, (2, 3), p).reshape(n, -1)[:, :c]
                return [np.ascontiguousarray(y, dtype=x.dtype).reshape(n, c, 1, 1)]
            if reduce is _mean and type(x) is np.ndarray and x.ndim == 4 and x.dtype == np.float32:
                # numpy's mean took 150-200 us on ResNet-50's 7x7x2048 between two kernels
                return [kernels.global_average_pool(np.ascontiguousarray(x))]
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
