"""GatherElements: out[i][j] = data[indices[i][j]][j] (for axis 0); same rank for both."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, norm_axis
from .registry import register


@register("GatherElements", since=11, dtypes=ALL)
def gather_elements(node, ctx):
    axis = attr(node, "axis", 0, int)

    def kernel(inputs):
        data, indices = inputs
        if data.ndim != indices.ndim:
            raise OpError(node, f"data and indices must have the same rank, got {data.ndim} and {indices.ndim}")
        ax = norm_axis(node, axis, data.ndim)
        dim = data.shape[ax]
        if indices.size and (indices.min() < -dim or indices.max() >= dim):
            raise OpError(node, f"indices out of range [{-dim}, {dim - 1}] for axis {axis}")
        idx = np.where(indices < 0, indices + dim, indices) if indices.size and indices.min() < 0 else indices
        if any(i > d for i, d in zip(indices.shape, data.shape)):
            raise OpError(node, f"indices shape {indices.shape} exceeds data shape {data.shape}")
        # indices may be smaller than data off the gathered axis: cut data down to match
        data = data[tuple(slice(None) if i == ax else slice(0, n) for i, n in enumerate(indices.shape))]
        return [np.take_along_axis(data, idx, axis=ax)]

    return kernel
