"""ConstantOfShape: tensor of the given shape filled with ``value`` (1-element tensor,
default float32 0)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, int_list
from .registry import register


@register("ConstantOfShape", since=9, dtypes=ALL)
def constant_of_shape(node, ctx):
    value = node.attrs.get("value")
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    if not isinstance(value, np.ndarray) or value.size != 1:
        raise OpError(node, f"attribute 'value' must be a 1-element tensor, got {value!r}")
    fill, dtype = value.reshape(-1)[0], value.dtype

    def kernel(inputs):
        shape = int_list(node, inputs[0], "input")
        if any(s < 0 for s in shape):
            raise OpError(node, f"shape must be non-negative, got {shape}")
        return [np.full(shape, fill, dtype=dtype)]

    return kernel
