"""Mod: fmod=0 -> result has the divisor's sign (Python %), fmod=1 -> dividend's sign (C fmod).

ONNX's own tests use fmod=0 on floats too (Python semantics), so both modes take any type."""
from __future__ import annotations

import numpy as np

from ._util import NUMERIC, as_array, attr
from .registry import register


@register("Mod", since=10, dtypes=NUMERIC)
def mod(node, ctx):
    fmod = attr(node, "fmod", 0, int, choices=(0, 1))
    func = np.fmod if fmod else np.mod

    def kernel(inputs):
        a, b = inputs
        with np.errstate(divide="ignore", invalid="ignore"):  # x % 0 -> 0 / nan, no trap
            r = func(a, b)
        if r.dtype != a.dtype:
            r = r.astype(a.dtype)
        return [as_array(r)]

    return kernel
