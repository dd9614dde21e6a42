"""LpNormalization (opset 1), MeanVarianceNormalization (9) and GroupNormalization (18/21)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr, norm_axis, norm_axes
from .registry import register


@register("LpNormalization", since=1, dtypes=FLOATS)
def lp_normalization(node, ctx):
    axis = attr(node, "axis", -1, int)
    p = attr(node, "p", 2, int, choices=(1, 2))

    def kernel(inputs):
        x = inputs[0]
        ax = norm_axis(node, axis, x.ndim)
        norm = np.sum(np.abs(x), axis=ax, keepdims=True) if p == 1 else \
            np.sqrt(np.sum(np.square(x), axis=ax, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero vector normalises to 0
            y = np.where(norm == 0, 0, x / np.where(norm == 0, 1, norm))
        return [y.astype(x.dtype)]

    return kernel


@register("MeanVarianceNormalization", since=9, dtypes=FLOATS)
def mean_variance_normalization(node, ctx):
    axes = attr(node, "axes", [0, 2, 3], list)

    def kernel(inputs):
        x = inputs[0]
        ax = tuple(norm_axes(node, axes, x.ndim))
        mean = np.mean(x, axis=ax, keepdims=True)
        std = np.sqrt(np.mean(np.square(x), axis=ax, keepdims=True) - np.square(mean))
        return [((x - mean) / (std + 1e-9)).astype(x.dtype)]

    return kernel


@register("GroupNormalization", since=18, dtypes=FLOATS)
def group_normalization(node, ctx):
    groups = attr(node, "num_groups", kind=int)
    eps = attr(node, "epsilon", 1e-5, float)
    # Opset 18 gave scale/bias per group; 21 per channel (18 is deprecated for that reason).
    per_channel = ctx.opset >= 21

    def kernel(inputs):
        x, scale, bias = inputs
        n, c = x.shape[:2]
        if c % groups:
            raise OpError(node, f"channels {c} must be a multiple of num_groups {groups}")
        g = x.reshape(n, groups, -1).astype(np.float32 if x.dtype == np.float16 else x.dtype)
        mean = g.mean(axis=-1, keepdims=True)
        var = np.square(g - mean).mean(axis=-1, keepdims=True)
        y = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape).astype(x.dtype)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        if not per_channel:
            scale, bias = np.repeat(scale, c // groups), np.repeat(bias, c // groups)
        return [(y * scale.reshape(bshape) + bias.reshape(bshape)).astype(x.dtype)]

    return kernel
