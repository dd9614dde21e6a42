"""Concat along ``axis`` (required from opset 4; defaulted to 1 before)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, norm_axis
from .registry import register


@register("Concat", since=1, dtypes=ALL)
def concat(node, ctx):
    axis = attr(node, "axis", 1, int) if ctx.opset < 4 else attr(node, "axis", kind=int)
    if not node.inputs:
        raise OpError(node, "expected at least 1 input, got 0")

    def kernel(inputs):
        ax = norm_axis(node, axis, inputs[0].ndim)
        try:
            return [np.concatenate(inputs, axis=ax)]
        except ValueError as e:
            shapes = [x.shape for x in inputs]
            raise OpError(node, f"cannot concatenate shapes {shapes} on axis {axis}: {e}") from None

    return kernel
