"""MatMul with numpy semantics (batch broadcasting; 1-D operands get a dim prepended/appended
and then removed, exactly as ONNX specifies)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, as_array
from .registry import register


@register("MatMul", since=1, dtypes=FLOATS + ("int32", "int64", "uint32", "uint64"))
def matmul(node, ctx):
    def kernel(inputs):
        a, b = inputs
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(node, f"operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        try:
            return [as_array(np.matmul(a, b))]
        except ValueError as e:
            raise OpError(node, f"shapes {a.shape} and {b.shape} do not match: {e}") from None

    return kernel
