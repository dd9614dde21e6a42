"""Reshape: target shape from an input (opset 5+) or the ``shape`` attribute (opset 1).
0 copies the input dim (unless ``allowzero=1``, opset 14), -1 is inferred. Returns a view when
numpy can."""
from __future__ import annotations

import math

from ..errors import OpError
from ._util import ALL, attr, int_list
from .registry import register


@register("Reshape", since=1, dtypes=ALL)
def reshape(node, ctx):
    allowzero = attr(node, "allowzero", 0, int, choices=(0, 1))
    static = attr(node, "shape", kind=list) if ctx.opset < 5 else None
    if static is None and len(node.inputs) > 1 and ctx.const(node.inputs[1]) is not None:
        static = int_list(node, ctx.const(node.inputs[1]), "shape")  # a constant target: read once
    # Resolved targets by input shape when the target is static: a run repeats its shapes, and
    # a transformer has four Reshapes per layer whose Python work adds up.
    resolved: dict = {}

    def kernel(inputs):
        x = inputs[0]
        if static is not None:
            target = resolved.get(x.shape)
            if target is not None:
                return [x.reshape(target)]
        shape = static if static is not None else int_list(node, inputs[1], "shape")
        if shape.count(-1) > 1:
            raise OpError(node, f"at most one -1 allowed in shape, got {shape}")
        if allowzero and 0 in shape and -1 in shape:
            raise OpError(node, f"allowzero=1 forbids combining 0 and -1 in shape, got {shape}")
        if not allowzero:
            if any(s == 0 and i >= x.ndim for i, s in enumerate(shape)):
                raise OpError(node, f"shape {shape} copies dim (0) past input rank {x.ndim}")
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        if -1 in shape:
            known = math.prod(s for s in shape if s != -1)
            if known == 0:
                raise OpError(node, f"cannot infer -1 in shape {shape} with a zero-sized dim")
            if x.size % known:
                raise OpError(node, f"cannot reshape {x.shape} ({x.size} elements) to {shape}")
            shape = [x.size // known if s == -1 else s for s in shape]
        if math.prod(shape) != x.size or any(s < 0 for s in shape):
            raise OpError(node, f"cannot reshape {x.shape} ({x.size} elements) to {shape}")
        if static is not None:
            if len(resolved) > 8:
                resolved.clear()
            resolved[x.shape] = tuple(shape)
        return [x.reshape(shape)]

    return kernel
