"""Gemm: Y = alpha * A' @ B' + beta * C, with A' / B' optionally transposed and C broadcast to
[M, N]. C is optional from opset 11."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr, opt
from .registry import register


def _scaled(y, alpha, inplace):
    if inplace:
        y *= alpha  # Python float is a weak scalar: float32 stays float32
        return y
    return y * alpha


@register("Gemm", since=1, dtypes=FLOATS + ("int32", "int64", "uint32", "uint64"))
def gemm(node, ctx):
    alpha = attr(node, "alpha", 1.0, float)
    beta = attr(node, "beta", 1.0, float)
    trans_a = attr(node, "transA", 0, int, choices=(0, 1))
    trans_b = attr(node, "transB", 0, int, choices=(0, 1))

    def kernel(inputs):
        a, b, c = inputs[0], inputs[1], opt(inputs, 2)
        if a.ndim != 2 or b.ndim != 2:
            raise OpError(node, f"A and B must be 2-D, got shapes {a.shape} and {b.shape}")
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        if a.shape[1] != b.shape[0]:
            raise OpError(node, f"inner dims differ: A' {a.shape} vs B' {b.shape}")
        y = a @ b  # fresh buffer: scale and add in place (float); ints go through float math
        inplace = y.dtype.kind == "f"
        if alpha != 1.0:
            y = _scaled(y, alpha, inplace)
        if c is not None and beta != 0.0:
            if np.broadcast_shapes(c.shape, y.shape) != y.shape:
                raise OpError(node, f"C shape {c.shape} does not broadcast to {y.shape}")
            c = c if beta == 1.0 else c * beta
            if inplace:
                y += c
            else:
                y = y + c
        return [y if y.dtype == a.dtype else y.astype(a.dtype)]

    return kernel
