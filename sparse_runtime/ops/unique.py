"""Unique (opset 11): unique values (or slices along ``axis``), first-occurrence indices, inverse
indices and counts, all int64. ``sorted=0`` keeps first-occurrence order."""
from __future__ import annotations

import numpy as np

from ._util import ALL, attr, norm_axis
from .registry import register


@register("Unique", since=11, dtypes=ALL)
def unique(node, ctx):
    axis = attr(node, "axis", None, int)
    is_sorted = attr(node, "sorted", 1, int, choices=(0, 1))

    def kernel(inputs):
        x = inputs[0]
        ax = None if axis is None else norm_axis(node, axis, x.ndim)
        vals, first, inverse, counts = np.unique(x if ax is not None else x.reshape(-1), axis=ax,
                                                 return_index=True, return_inverse=True,
                                                 return_counts=True)
        inverse = inverse.reshape(-1)
        if not is_sorted:  # reorder the sorted uniques by where each first appears
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            vals = np.take(vals, order, axis=0 if ax is None else ax)
            first, counts, inverse = first[order], counts[order], rank[inverse]
        i64 = np.int64
        return [vals, first.astype(i64), inverse.astype(i64), counts.astype(i64)]

    return kernel
