"""Shrink (opset 9): x+bias if x < -lambd, x-bias if x > lambd, else 0; dtype kept."""
from __future__ import annotations

import numpy as np

from ._util import NUMERIC, attr
from .registry import register


@register("Shrink", since=9, dtypes=NUMERIC)
def shrink(node, ctx):
    lambd = attr(node, "lambd", 0.5, float)
    bias = attr(node, "bias", 0.0, float)

    def kernel(inputs):
        x = inputs[0]
        y = np.where(x < -lambd, x + bias, np.where(x > lambd, x - bias, 0))
        return [y.astype(x.dtype)]

    return kernel
