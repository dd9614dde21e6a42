"""Transpose by ``perm`` (default: reverse). Returns a strided view; consumers that need
contiguous memory copy it themselves."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("Transpose", since=1, dtypes=ALL)
def transpose(node, ctx):
    perm = attr(node, "perm", None, list)
    if perm is not None and sorted(perm) != list(range(len(perm))):
        raise OpError(node, f"perm must be a permutation of 0..{len(perm) - 1}, got {perm}")

    def kernel(inputs):
        x = inputs[0]
        if perm is not None and len(perm) != x.ndim:
            raise OpError(node, f"perm {perm} has {len(perm)} entries, input rank is {x.ndim}")
        if type(x) is np.ndarray:
            return [x.transpose(perm)]  # the method: np.transpose's dispatch costs more than the view
        return [np.transpose(x, perm)]  # a numpy scalar: np.transpose makes it a 0-d array

    return kernel
