"""Slice: starts/ends/axes as attributes before opset 10, as inputs (plus steps) from 10.

Indices are clamped exactly as ONNX specifies (which differs from Python slicing for negative
steps), then turned into a basic-indexing view.
"""
from __future__ import annotations

from ..errors import OpError
from ._util import ALL, attr, int_list, norm_axes, opt
from .registry import register


def _bounds(start, end, step, dim):
    """ONNX clamping -> a Python slice with the same elements."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start = min(max(start, 0), dim)
        end = min(max(end, 0), dim)
    else:
        start = min(max(start, 0), dim - 1)
        end = min(max(end, -1), dim - 1)
        if end == -1:  # "before index 0": Python spells that as None, not -1
            end = None
    return slice(start, end, step)


@register("Slice", since=1, dtypes=ALL)
def slice_(node, ctx):
    if ctx.opset < 10:
        static = (attr(node, "starts", kind=list), attr(node, "ends", kind=list),
                  attr(node, "axes", None, list), None)
    else:
        static = None

    def kernel(inputs):
        x = inputs[0]
        if static is not None:
            starts, ends, axes, steps = static
        else:
            starts = int_list(node, inputs[1], "starts")
            ends = int_list(node, inputs[2], "ends")
            axes = int_list(node, opt(inputs, 3), "axes") if opt(inputs, 3) is not None else None
            steps = int_list(node, opt(inputs, 4), "steps") if opt(inputs, 4) is not None else None
        n = len(starts)
        if axes is None:
            axes = list(range(n))
        if steps is None:
            steps = [1] * n
        if not len(ends) == len(axes) == len(steps) == n:
            raise OpError(node, f"starts/ends/axes/steps lengths differ: {n}, {len(ends)}, {len(axes)}, {len(steps)}")
        axes = norm_axes(node, axes, x.ndim)
        index = [slice(None)] * x.ndim
        for a, s, e, st in zip(axes, starts, ends, steps):
            if st == 0:
                raise OpError(node, f"step must be nonzero (axis {a})")
            index[a] = _bounds(s, e, st, x.shape[a])
        return [x[tuple(index)]]

    return kernel
