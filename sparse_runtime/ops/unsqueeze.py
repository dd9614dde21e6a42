"""Unsqueeze: insert size-1 dims. ``axes`` is an attribute before opset 13, an input from 13.
Axes refer to the *output* rank; the result is a view."""
from __future__ import annotations

from ..errors import OpError
from ._util import ALL, attr, check_no_attr, int_list, norm_axes, opt
from .registry import register


@register("Unsqueeze", since=1, dtypes=ALL)
def unsqueeze(node, ctx):
    if ctx.opset < 13:
        static = attr(node, "axes", kind=list)
    else:
        check_no_attr(node, "axes")
        static = None
        if len(node.inputs) < 2 or not node.inputs[1]:
            raise OpError(node, "input 'axes' is required from opset 13")
        if ctx.const(node.inputs[1]) is not None:
            static = int_list(node, ctx.const(node.inputs[1]), "axes")  # constant axes: read once
    shapes: dict = {}  # result shape by input shape, for static axes (a run repeats its shapes)

    def kernel(inputs):
        x = inputs[0]
        if static is not None:
            shape = shapes.get(x.shape)
            if shape is not None:
                return [x.reshape(shape)]
        axes = static if static is not None else int_list(node, opt(inputs, 1), "axes")
        out_rank = x.ndim + len(axes)
        axes = sorted(norm_axes(node, axes, out_rank))
        shape = list(x.shape)
        for a in axes:  # ascending order keeps every later position valid
            shape.insert(a, 1)
        if static is not None:
            if len(shapes) > 8:
                shapes.clear()
            shapes[x.shape] = tuple(shape)
        return [x.reshape(shape)]

    return kernel
