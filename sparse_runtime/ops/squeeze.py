"""Squeeze: drop size-1 dims (all of them when no axes are given). ``axes`` is an attribute
before opset 13, an optional input from 13. The result is a view."""
from __future__ import annotations

from ..errors import OpError
from ._util import ALL, attr, check_no_attr, int_list, norm_axes, opt
from .registry import register


@register("Squeeze", since=1, dtypes=ALL)
def squeeze(node, ctx):
    if ctx.opset < 13:
        static = attr(node, "axes", None, list)
    else:
        check_no_attr(node, "axes")
        static = None

    def kernel(inputs):
        x = inputs[0]
        axes = static
        if axes is None and opt(inputs, 1) is not None:
            axes = int_list(node, inputs[1], "axes")
        if axes is None:
            return [x.reshape([d for d in x.shape if d != 1])]
        axes = norm_axes(node, axes, x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise OpError(node, f"cannot squeeze axis {a} of size {x.shape[a]} (shape {x.shape}): expected size 1")
        return [x.reshape([d for i, d in enumerate(x.shape) if i not in axes])]

    return kernel
