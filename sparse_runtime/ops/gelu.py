"""Gelu (opset 20): approximate='none' uses erf, 'tanh' the tanh approximation."""
from __future__ import annotations

import math

import numpy as np

from . import _special
from ._util import FLOATS, as_array, attr
from .registry import register

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@register("Gelu", since=20, dtypes=FLOATS)
def gelu(node, ctx):
    approximate = attr(node, "approximate", "none", str, choices=("none", "tanh"))

    if approximate == "none":
        def kernel(inputs):
            x = inputs[0]
            t = _special.erf(x * _SQRT_HALF)
            t += 1
            t *= x
            t *= 0.5
            return [as_array(t)]
    else:
        def kernel(inputs):
            x = inputs[0]
            t = x * x
            t *= 0.044715 * x
            t += x
            t *= _SQRT_2_OVER_PI
            np.tanh(t, out=t)
            t += 1
            t *= x
            t *= 0.5
            return [as_array(t)]

    return kernel
