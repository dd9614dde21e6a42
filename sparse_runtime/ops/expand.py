"""Expand: broadcast X against ``shape`` (bidirectionally: the result may be larger than shape)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, int_list
from .registry import register


@register("Expand", since=8, dtypes=ALL)
def expand(node, ctx):
    def kernel(inputs):
        x = inputs[0]
        shape = tuple(int_list(node, inputs[1], "shape"))
        try:
            out_shape = np.broadcast_shapes(x.shape, shape)
        except ValueError:
            raise OpError(node, f"input shape {x.shape} does not broadcast with shape {shape}") from None
        # A read-only stride-0 view: no memory is spent on the repeated data.
        return [np.broadcast_to(x, out_shape)]

    return kernel
