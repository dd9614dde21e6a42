"""GatherND with ``batch_dims``: the last index axis addresses the leading dims of data."""
from __future__ import annotations

import math

import numpy as np

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("GatherND", since=11, dtypes=ALL)
def gather_nd(node, ctx):
    b = attr(node, "batch_dims", 0, int)
    if b < 0:
        raise OpError(node, f"batch_dims must be >= 0, got {b}")

    def kernel(inputs):
        data, indices = inputs
        if indices.ndim < 1 or data.ndim <= b or indices.ndim <= b:
            raise OpError(node, f"ranks too small for batch_dims={b}: data {data.shape}, indices {indices.shape}")
        k = indices.shape[-1]
        if k > data.ndim - b:
            raise OpError(node, f"indices.shape[-1]={k} exceeds data rank {data.ndim} - batch_dims {b}")
        if data.shape[:b] != indices.shape[:b]:
            raise OpError(node, f"batch dims differ: data {data.shape[:b]} vs indices {indices.shape[:b]}")
        nb = math.prod(data.shape[:b])
        d = data.reshape((nb,) + data.shape[b:])
        idx = indices.reshape((nb,) + indices.shape[b:])
        dims = np.array(d.shape[1:1 + k], dtype=np.int64)
        if idx.size and (np.any(idx < -dims) or np.any(idx >= dims)):
            raise OpError(node, f"indices out of range for data dims {tuple(dims)}")
        # One advanced index per addressed axis, plus the flattened batch index in front.
        batch = np.arange(nb).reshape((nb,) + (1,) * (idx.ndim - 2))
        out = d[(batch,) + tuple(idx[..., j] for j in range(k))]
        return [out.reshape(indices.shape[:-1] + data.shape[b + k:])]

    return kernel
