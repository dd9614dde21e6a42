"""MaxPool / AveragePool / LpPool over N-d windows (pads, strides, dilations, ceil_mode,
auto_pad). Each kernel tap is one strided slice of the padded input, folded with a ufunc:
K vectorised passes over the output instead of a Python loop over windows.

float32 2-D MaxPool without Indices runs natively (``kernels.maxpool2d``); inside a blocked region
(attribute ``layout="blocked"``, set by passes/keep_blocked_activations.py, not an ONNX one) it
reads and writes ``BlockedTensor`` (ops/_blocked.py), and with ``layout="blocked_in"`` it reads
one and returns NCHW (each pooled row transposed on its way out).
MaxPool's optional Indices output is the flat index into the unpadded input (row-major,
or column-major over the spatial dims with storage_order=1).
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ..errors import OpError
from ._blocked import BlockedTensor
from ._spatial import SpatialAttrs, geometry, pad_spatial, window_slices
from ._util import FLOATS, attr, node_has_output
from .registry import register


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _parse(node, ctx, dilations_since):
    sp = SpatialAttrs(node, kernel_required=True, allow_dilations=ctx.opset >= dilations_since)
    ceil_mode = attr(node, "ceil_mode", 0, int, choices=(0, 1))
    return sp, ceil_mode


def _setup(node, sp, ceil_mode, x):
    if x.ndim < 3:
        raise OpError(node, f"expected input (N, C, spatial...), got shape {x.shape}")
    n_sp = x.ndim - 2
    ks, strides, dil, pads = sp.resolve(sp.kernel_shape, n_sp)
    begin, end, extra, out = geometry(node, x.shape[2:], ks, strides, dil, pads, sp.auto_pad, ceil_mode)
    return ks, strides, dil, begin, end, extra, out


def _setup_cache(node, sp, ceil_mode):
    """_setup per input shape, worked out once: its Python geometry took 40-60 us a call on
    ResNet-50 between two kernels, with cold caches."""
    cache = {}

    def setup(x):
        got = cache.get(x.shape)
        if got is None:
            got = cache[x.shape] = _setup(node, sp, ceil_mode, x)
        return got

    return setup


@register("MaxPool", since=1, dtypes=FLOATS + ("int8", "uint8"))
def max_pool(node, ctx):
    sp, ceil_mode = _parse(node, ctx, 10)
    storage_order = attr(node, "storage_order", 0, int, choices=(0, 1))
    want_idx = node_has_output(node, 1)
    if node.attrs.get("layout") in ("blocked", "blocked_in"):
        return _blocked_max_pool(node, sp, ceil_mode, nchw_out=node.attrs["layout"] == "blocked_in")
    setup = _setup_cache(node, sp, ceil_mode)

    def kernel(inputs):
        x = inputs[0]
        ks, strides, dil, begin, end, extra, out = setup(x)
        if not want_idx and x.dtype == np.float32 and x.ndim == 4:
            return [kernels.maxpool2d(x, ks, strides, begin, dil, out)]
        xp = pad_spatial(x, begin, [e + x_ for e, x_ in zip(end, extra)], _lowest(x.dtype))
        y = best = None
        for t, (kk, idx) in enumerate(window_slices(ks, strides, dil, out)):
            tap = xp[idx]
            if y is None:
                y = tap.copy()
                best = np.zeros(y.shape, np.int64) if want_idx else None
            elif want_idx:
                better = tap > y
                y[better] = tap[better]
                best[better] = t
            else:
                np.maximum(y, tap, out=y)
        if not want_idx:
            return [y]
        return [y, _indices(x.shape, best, ks, strides, dil, begin, out, storage_order)]

    return kernel


def _blocked_max_pool(node, sp, ceil_mode, nchw_out):
    setup = _setup_cache(node, sp, ceil_mode)

    def kernel(inputs):
        x = inputs[0]
        if type(x) is not BlockedTensor or x.ndim != 4:
            raise OpError(node, f"input '{node.inputs[0]}' must be a 4-D BlockedTensor, got {type(x).__name__} "
                                f"of shape {getattr(x, 'shape', None)}")
        ks, strides, dil, begin, end, extra, out = setup(x)
        if nchw_out:
            return [kernels.maxpool2d(x.data, ks, strides, begin, dil, out, blocked=True, nchw_channels=x.shape[1])]
        y = kernels.maxpool2d(x.data, ks, strides, begin, dil, out, blocked=True)
        return [BlockedTensor(y, x.shape[:2] + tuple(out))]

    return kernel


def _indices(shape, best, ks, strides, dil, begin, out, storage_order):
    """Winning kernel tap per output -> flat index into the unpadded input."""
    n_sp = len(ks)
    taps = np.unravel_index(best, ks)
    spatial = shape[2:]
    flat = np.zeros(best.shape, np.int64)
    # row-major: last dim fastest; column-major (storage_order=1): first spatial dim fastest
    order = range(n_sp) if storage_order == 0 else reversed(range(n_sp))
    for i in order:
        pos = np.arange(out[i]).reshape((-1,) + (1,) * (n_sp - 1 - i)) * strides[i] - begin[i]
        flat = flat * spatial[i] + pos + taps[i] * dil[i]
    nc = np.arange(shape[0] * shape[1]).reshape(shape[:2] + (1,) * n_sp)
    return flat + nc * math.prod(spatial)


@register("AveragePool", since=1, dtypes=FLOATS)
def average_pool(node, ctx):
    sp, ceil_mode = _parse(node, ctx, 19)
    include_pad = attr(node, "count_include_pad", 0, int, choices=(0, 1))

    def kernel(inputs):
        x = inputs[0]
        ks, strides, dil, begin, end, extra, out = _setup(node, sp, ceil_mode, x)
        full_end = [e + x_ for e, x_ in zip(end, extra)]
        xp = pad_spatial(x, begin, full_end)
        # Divisor per output: how many taps hit real input (or explicit padding, with
        # count_include_pad); taps in the ceil_mode overhang never count.
        ones = np.ones((1, 1) + x.shape[2:], x.dtype)
        mask = pad_spatial(ones, begin, end, 1 if include_pad else 0)
        mask = pad_spatial(mask, [0] * len(ks), extra, 0)
        y = count = None
        for _, idx in window_slices(ks, strides, dil, out):
            if y is None:
                y, count = xp[idx].copy(), mask[idx].copy()
            else:
                y += xp[idx]
                count += mask[idx]
        y /= count
        return [y]

    return kernel


@register("LpPool", since=2, dtypes=FLOATS)
def lp_pool(node, ctx):
    sp, ceil_mode = _parse(node, ctx, 18)
    p = attr(node, "p", 2, int)
    if p < 1:
        raise OpError(node, f"p must be >= 1, got {p}")

    def kernel(inputs):
        x = inputs[0]
        ks, strides, dil, begin, end, extra, out = _setup(node, sp, ceil_mode, x)
        xp = pad_spatial(np.abs(x) ** p, begin, [e + x_ for e, x_ in zip(end, extra)])
        y = None
        for _, idx in window_slices(ks, strides, dil, out):
            if y is None:
                y = xp[idx].copy()
            else:
                y += xp[idx]
        return [(y ** (1.0 / p)).astype(x.dtype, copy=False)]

    return kernel
