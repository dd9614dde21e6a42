"""Gather: np.take along ``axis``; negative indices count from the end."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, norm_axis
from .registry import register


@register("Gather", since=1, dtypes=ALL)
def gather(node, ctx):
    axis = attr(node, "axis", 0, int)

    def kernel(inputs):
        data, indices = inputs
        ax = norm_axis(node, axis, data.ndim)
        try:
            return [np.take(data, indices, axis=ax)]  # take accepts [-n, n) and always copies
        except IndexError as e:
            raise OpError(node, f"index out of range for axis {axis} of size {data.shape[ax]}: {e}") from None

    return kernel
