"""MatMul with numpy semantics (batch broadcasting; 1-D operands get a dim prepended/appended
and then removed, exactly as ONNX specifies)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._util import FLOATS, as_array
from .registry import register


@register("MatMul", since=1, native=True, dtypes=FLOATS + ("int32", "int64", "uint32", "uint64"))
def matmul(node, ctx):
    def kernel(inputs):
        a, b = inputs
        if a.dtype == np.float32 and b.dtype == np.float32 and a.ndim >= 2 and b.ndim >= 2 \
                and a.shape[-1] == b.shape[-2]:
            try:
                return [kernels.matmul(a, b)]  # attention-style activation products: native pool
            except ValueError:  # batch dims that do not broadcast: numpy words the error below
                pass
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(node, f"operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        try:
            return [as_array(np.matmul(a, b))]
        except ValueError as e:
            raise OpError(node, f"shapes {a.shape} and {b.shape} do not match: {e}") from None

    return kernel
