"""TopK -> (values, int64 indices) along ``axis``. K is an attribute before opset 10, an input
after. Ties go to the lower index (a stable sort), matching the reference implementation."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import NUMERIC, attr, int_list, norm_axis
from .registry import register


@register("TopK", since=1, dtypes=NUMERIC)
def topk(node, ctx):
    axis = attr(node, "axis", -1, int)
    largest = attr(node, "largest", 1, int, choices=(0, 1))
    attr(node, "sorted", 1, int, choices=(0, 1))  # unsorted output may be in any order: we sort
    static_k = attr(node, "k", kind=int) if ctx.opset < 10 else None

    def kernel(inputs):
        x = inputs[0]
        ax = norm_axis(node, axis, x.ndim)
        k = static_k if static_k is not None else int_list(node, inputs[1], "K")
        if isinstance(k, list):
            if len(k) != 1:
                raise OpError(node, f"K must hold one value, got {k}")
            k = k[0]
        n = x.shape[ax]
        if not 0 <= k <= n:
            raise OpError(node, f"K={k} out of range [0, {n}] for axis {axis}")
        if largest:
            # Stable descending order with ties by ascending index: sort the reversed axis
            # ascending (stable), reverse the result, map positions back.
            order = np.argsort(np.flip(x, ax), axis=ax, kind="stable")
            idx = (n - 1) - np.flip(order, ax)
        else:
            idx = np.argsort(x, axis=ax, kind="stable")
        idx = np.take(idx, np.arange(k), axis=ax).astype(np.int64, copy=False)
        return [np.take_along_axis(x, idx, axis=ax), idx]

    return kernel
