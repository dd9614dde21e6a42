"""Logical ops on bool tensors: Not And Or Xor (the binary ones broadcast)."""
from __future__ import annotations

import numpy as np

from ._util import as_array
from .registry import register


@register("Not", since=1, dtypes=("bool",))
def not_(node, ctx):
    return lambda inputs: [as_array(np.logical_not(inputs[0]))]


def _logical(ufunc):
    def factory(node, ctx):
        return lambda inputs: [as_array(ufunc(inputs[0], inputs[1]))]

    return factory


register("And", since=7, dtypes=("bool",))(_logical(np.logical_and))
register("Or", since=7, dtypes=("bool",))(_logical(np.logical_or))
register("Xor", since=7, dtypes=("bool",))(_logical(np.logical_xor))
