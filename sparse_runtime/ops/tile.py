"""Tile: repeat X ``repeats[i]`` times along each axis."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, int_list
from .registry import register


@register("Tile", since=6, dtypes=ALL)
def tile(node, ctx):
    def kernel(inputs):
        x = inputs[0]
        reps = int_list(node, inputs[1], "repeats")
        if len(reps) != x.ndim or any(r < 0 for r in reps):
            raise OpError(node, f"repeats must be {x.ndim} non-negative ints (input rank), got {reps}")
        return [np.tile(x, reps)]

    return kernel
