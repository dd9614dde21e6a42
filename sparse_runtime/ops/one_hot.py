"""OneHot (opset 9): indices -> ``values[1]`` where index == position along ``axis``, else ``values[0]``.
Negative indices count from the end (opset 11); out-of-range ones give an all-off row."""
from __future__ import annotations

import numpy as np

from ._util import ALL, attr, norm_axis
from .registry import register


@register("OneHot", since=9, dtypes=ALL)
def one_hot(node, ctx):
    axis = attr(node, "axis", -1, int)

    def kernel(inputs):
        indices, depth, values = inputs
        d = int(np.asarray(depth).reshape(-1)[0])
        ax = norm_axis(node, axis, indices.ndim + 1)
        idx = indices.astype(np.int64)
        idx = np.where(idx < 0, idx + d, idx)
        shape = [1] * (indices.ndim + 1)
        shape[ax] = d
        positions = np.arange(d).reshape(shape)
        hot = np.expand_dims(idx, ax) == positions
        return [np.where(hot, values[1], values[0]).astype(values.dtype)]

    return kernel
