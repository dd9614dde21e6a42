"""Trilu: keep the upper (upper=1) or lower triangle of the last two dims, offset by k."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, int_list, opt
from .registry import register


@register("Trilu", since=14, dtypes=ALL)
def trilu(node, ctx):
    upper = attr(node, "upper", 1, int, choices=(0, 1))
    func = np.triu if upper else np.tril

    def kernel(inputs):
        x = inputs[0]
        if x.ndim < 2:
            raise OpError(node, f"input must be at least 2-D, got shape {x.shape}")
        k = int_list(node, inputs[1], "k")[0] if opt(inputs, 1) is not None else 0
        return [func(x, k)]

    return kernel
