"""EyeLike (opset 9): a 2-D identity (shifted by ``k``) shaped like the input, in ``dtype`` or the
input's type."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("EyeLike", since=9, dtypes=ALL)
def eye_like(node, ctx):
    k = attr(node, "k", 0, int)
    to = attr(node, "dtype", None, int)
    dtype = None if to is None else np.dtype(helper.tensor_dtype_to_np_dtype(to))

    def kernel(inputs):
        x = inputs[0]
        if x.ndim != 2:
            raise OpError(node, f"input must be 2-D, got shape {x.shape}")
        return [np.eye(x.shape[0], x.shape[1], k=k, dtype=dtype or x.dtype)]

    return kernel
