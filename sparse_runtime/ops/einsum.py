"""Einsum via np.einsum (ONNX equations are numpy-compatible, including '...')."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, as_array, attr
from .registry import register


@register("Einsum", since=12, dtypes=FLOATS + ("int32", "int64"))
def einsum(node, ctx):
    eq = attr(node, "equation", kind=str).replace(" ", "")
    lhs = eq.split("->")[0]
    if lhs.count(",") + 1 != len(node.inputs):
        raise OpError(node, f"equation '{eq}' has {lhs.count(',') + 1} operands, node has {len(node.inputs)} inputs")
    # Path optimisation only pays off with 3+ operands; for 1-2 it is pure overhead.
    optimize = len(node.inputs) > 2

    def kernel(inputs):
        try:
            r = np.einsum(eq, *inputs, optimize=optimize)
        except ValueError as e:
            raise OpError(node, f"einsum '{eq}' failed on shapes {[x.shape for x in inputs]}: {e}") from None
        if r.dtype != inputs[0].dtype:
            r = r.astype(inputs[0].dtype)
        return [as_array(r)]

    return kernel
