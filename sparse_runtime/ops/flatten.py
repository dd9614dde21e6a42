"""Flatten to 2-D: [prod(shape[:axis]), prod(shape[axis:])]; axis may be negative (opset 11)."""
from __future__ import annotations

import math

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("Flatten", since=1, dtypes=ALL)
def flatten(node, ctx):
    axis = attr(node, "axis", 1, int)

    def kernel(inputs):
        x = inputs[0]
        ax = axis + x.ndim if axis < 0 else axis
        if not 0 <= ax <= x.ndim:  # axis == rank is legal: [N, 1]
            raise OpError(node, f"axis {axis} out of range [{-x.ndim}, {x.ndim}] for rank {x.ndim}")
        # explicit sizes (no -1) so zero-sized inputs work
        return [x.reshape(math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))]

    return kernel
