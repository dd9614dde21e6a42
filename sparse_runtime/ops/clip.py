"""Clip to [min, max]: attributes before opset 11, optional scalar inputs from 11."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import NUMERIC, as_array, attr, opt
from .registry import register


def _bound(node, v, name):
    if v is None:
        return None
    if v.size != 1:
        raise OpError(node, f"'{name}' must be a scalar, got shape {v.shape}")
    return v.reshape(())


@register("Clip", since=1, dtypes=NUMERIC)
def clip(node, ctx):
    if ctx.opset < 11:
        lo = attr(node, "min", None, float)
        hi = attr(node, "max", None, float)
        static = True
    else:
        static = False

    def kernel(inputs):
        x = inputs[0]
        if static:
            a, b = lo, hi
        else:
            a, b = _bound(node, opt(inputs, 1), "min"), _bound(node, opt(inputs, 2), "max")
        if a is None and b is None:
            return [x]
        # min/max separately (not np.clip) so lo > hi gives max everywhere, as ONNX specifies
        r = x
        if a is not None:
            r = np.maximum(r, a)
        if b is not None:
            r = np.minimum(r, b)
        if r.dtype != x.dtype:
            r = r.astype(x.dtype)
        return [as_array(r)]

    return kernel
