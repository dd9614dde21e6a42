"""PackedMatMul (domain sparse_runtime): Y = act(X · W + bias) with W packed once at load.

Produced by passes/lower_linear.py from MatMul/Gemm with a constant weight, then given its bias,
residual and activation by passes/fuse_epilogue.py: Y = act(X · W + bias + R) where the optional
second input R (a residual connection) has Y's shape. X may have any leading dims; they are
flattened into the rows the kernel streams.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from .registry import register


@register("PackedMatMul", domain="sparse_runtime", native=True)
def packed_matmul(node, ctx):
    weight = node.attrs["weight"]
    bias = node.attrs.get("bias")
    act = node.attrs.get("activation", "none")
    n, k = weight.shape
    if act not in kernels.ACTIVATIONS:
        raise OpError(node, f"activation '{act}' is not one of {kernels.ACTIVATIONS}")
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32)

    def kernel(inputs):
        x = inputs[0]
        if x.dtype != np.float32:
            raise OpError(node, f"input '{node.inputs[0]}' must be float32, got {x.dtype}")
        if x.ndim < 1 or x.shape[-1] != k:
            raise OpError(node, f"input '{node.inputs[0]}' has shape {x.shape}, expected (..., {k})")
        lead = x.shape[:-1]
        rows = np.ascontiguousarray(x).reshape(-1, k)
        r = inputs[1] if len(inputs) > 1 else None
        if r is None:
            return [kernels.linear(rows, weight, bias, act).reshape(*lead, n)]
        if r.dtype == np.float32 and r.shape == lead + (n,):
            return [kernels.linear(rows, weight, bias, act, residual=np.ascontiguousarray(r).reshape(-1, n))
                    .reshape(*lead, n)]
        # A residual that broadcasts (or promotes) is added the ONNX way, then activated.
        y = kernels.linear(rows, weight, bias).reshape(*lead, n) + r
        if y.dtype != np.float32:
            raise OpError(node, f"residual '{node.inputs[1]}' has dtype {r.dtype}, expected float32")
        return [kernels.activation_(np.ascontiguousarray(y), act)]

    return kernel
