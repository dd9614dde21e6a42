"""Compress (opset 9): keep the slices along ``axis`` (or of the flattened input) where condition
is true; a condition shorter than the axis keeps nothing beyond its length."""
from __future__ import annotations

import numpy as np

from ._util import ALL, attr, norm_axis
from .registry import register


@register("Compress", since=9, dtypes=ALL)
def compress(node, ctx):
    axis = attr(node, "axis", None, int)

    def kernel(inputs):
        x, cond = inputs
        cond = cond.astype(bool).reshape(-1)
        if axis is None:
            return [np.compress(cond, x.reshape(-1))]
        return [np.compress(cond, x, axis=norm_axis(node, axis, x.ndim))]

    return kernel
