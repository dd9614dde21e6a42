"""Relu: max(x, 0); the Python int 0 is a weak scalar so the input dtype is kept."""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, SIGNED, as_array
from .registry import register


@register("Relu", since=1, dtypes=FLOATS + SIGNED)
def relu(node, ctx):
    return lambda inputs: [as_array(np.maximum(inputs[0], 0))]
