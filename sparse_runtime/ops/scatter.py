"""ScatterElements (opset 11; ``reduction`` from 16/18), its deprecated alias Scatter (9-10), and
ScatterND (11; ``reduction`` from 16/18). The data input is copied, never modified.

Duplicate indices: with reduction="none" ONNX leaves the winner undefined; numpy's last-write-wins
is what onnx's reference does. With a reduction, ``ufunc.at`` applies every duplicate.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, norm_axis
from .registry import register

_REDUCE = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _reduction(node):
    return _REDUCE[attr(node, "reduction", "none", str, choices=tuple(_REDUCE))]


def _scatter_elements(node, ctx):
    axis = attr(node, "axis", 0, int)
    ufunc = _reduction(node)

    def kernel(inputs):
        data, indices, updates = inputs
        if indices.shape != updates.shape:
            raise OpError(node, f"indices shape {indices.shape} != updates shape {updates.shape}")
        ax = norm_axis(node, axis, data.ndim)
        idx = np.where(indices < 0, indices + data.shape[ax], indices)
        # Full coordinate arrays: the given axis from idx, every other axis its own position.
        coords = list(np.indices(idx.shape, sparse=True))
        coords[ax] = idx
        out = data.copy()
        if ufunc is None:
            out[tuple(coords)] = updates
        else:
            full = tuple(np.broadcast_to(c, idx.shape) for c in coords)
            ufunc.at(out, full, updates)
        return [out]

    return kernel


register("ScatterElements", since=11, dtypes=ALL)(_scatter_elements)
register("Scatter", since=9, dtypes=ALL)(_scatter_elements)


@register("ScatterND", since=11, dtypes=ALL)
def scatter_nd(node, ctx):
    ufunc = _reduction(node)

    def kernel(inputs):
        data, indices, updates = inputs
        k = indices.shape[-1]
        if k > data.ndim:
            raise OpError(node, f"indices last dim {k} exceeds data rank {data.ndim}")
        idx = indices.reshape(-1, k)
        upd = updates.reshape((idx.shape[0],) + data.shape[k:])
        out = data.copy()
        coords = tuple(idx.T)
        if ufunc is None:
            out[coords] = upd
        else:
            ufunc.at(out, coords, upd)
        return [out]

    return kernel
