"""Swish (opset 24): x * sigmoid(alpha * x)."""
from __future__ import annotations

from . import _special
from ._util import FLOATS, attr
from .registry import register


@register("Swish", since=24, dtypes=FLOATS)
def swish(node, ctx):
    alpha = attr(node, "alpha", 1.0, float)

    def kernel(inputs):
        x = inputs[0]
        return [(x * _special.sigmoid((x * x.dtype.type(alpha)).astype(x.dtype))).astype(x.dtype)]

    return kernel
