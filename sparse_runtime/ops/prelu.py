"""PRelu: x if x >= 0 else slope * x; slope broadcasts to x (unidirectionally)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, as_array
from .registry import register


@register("PRelu", since=7, dtypes=FLOATS + ("int32", "int64", "uint32", "uint64"))
def prelu(node, ctx):
    def kernel(inputs):
        x, slope = inputs
        try:
            r = np.where(x < 0, x * slope, x)
        except ValueError:
            raise OpError(node, f"slope shape {slope.shape} does not broadcast to X shape {x.shape}") from None
        if r.shape != x.shape:
            raise OpError(node, f"slope shape {slope.shape} does not broadcast to X shape {x.shape}")
        if r.dtype != x.dtype:
            r = r.astype(x.dtype)
        return [as_array(r)]

    return kernel
