"""PackedMatMul (domain sparse_runtime): Y = act(X · W + bias) with W packed once at load.

Produced by passes/lower_linear.py from MatMul/Gemm with a constant weight, then given its bias,
residual and activation by passes/fuse_epilogue.py: Y = act(X · W + bias + R) where the optional
second input R (a residual connection) has Y's shape. X may have any leading dims; they are
flattened into the rows the kernel streams.

``in_layout`` / ``out_layout`` = "tiles" (set by passes/keep_token_tiles.py on a pair of
consecutive layers): the input arrives, or the output leaves, as ``TokenTiles`` (ops/_tiles.py),
channels-major, instead of row-major.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._tiles import TokenTiles
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
    in_tiles = node.attrs.get("in_layout", "rows") == "tiles"
    out_tiles = node.attrs.get("out_layout", "rows") == "tiles"
    # The common case on a bound op (weight, bias and activation converted once); the general
    # paths below take what it declines (None) and word the errors.
    op = kernels.LinearOp(weight, bias, act, in_tiles, out_tiles)
    if in_tiles or out_tiles:
        return _tiled_kernel(node, weight, bias, act, in_tiles, out_tiles, op)
    fast = op.rows

    def kernel(inputs):
        y = fast(inputs[0], inputs[1] if len(inputs) > 1 else None)
        return [y] if y is not None else general(inputs)

    def general(inputs):
        lead, rows = _rows(node, inputs[0], k)
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


def _rows(node, x, k):
    """(leading dims, the input as contiguous [rows, k]) of a row-major float32 input of k features."""
    if x.dtype != np.float32:
        raise OpError(node, f"input '{node.inputs[0]}' must be float32, got {x.dtype}")
    if x.ndim < 1 or x.shape[-1] != k:
        raise OpError(node, f"input '{node.inputs[0]}' has shape {x.shape}, expected (..., {k})")
    return x.shape[:-1], np.ascontiguousarray(x).reshape(-1, k)


def _tiled_kernel(node, weight, bias, act, in_tiles, out_tiles, op):
    """A layer of a token-tiles pair: reads and/or writes TokenTiles (see the module doc)."""
    n, k = weight.shape

    def kernel(inputs):
        x = inputs[0]
        r = inputs[1] if len(inputs) > 1 else None
        if in_tiles:
            if type(x) is TokenTiles:
                y = op.tiles(x.data, x.shape, r)
                if y is not None:
                    return [TokenTiles(y, x.shape[:-1] + (n,)) if out_tiles else y]
        else:
            y = op.rows(x, r)
            if y is not None:
                return [TokenTiles(y, x.shape[:-1] + (n,))]
        return general(inputs)

    def general(inputs):
        x = inputs[0]
        if in_tiles:
            if not isinstance(x, TokenTiles) or x.shape[-1] != k:
                raise OpError(node, f"input '{node.inputs[0]}' must be token tiles of {k} features, got {x!r}")
            lead, data, m = x.shape[:-1], x.data, x.tokens
        else:
            lead, data = _rows(node, x, k)
            m = data.shape[0]
        r = inputs[1] if len(inputs) > 1 else None
        if r is not None:
            if r.dtype != np.float32 or r.shape != lead + (n,):
                raise OpError(node, f"residual '{node.inputs[1]}' must be float32 of shape {lead + (n,)}, "
                                    f"got {r.dtype} {r.shape}")
            r = np.ascontiguousarray(r).reshape(-1, n)
        if m == 0:  # no tokens: nothing for the kernels, an empty result of the right shape
            y = np.zeros(lead + (n,), np.float32)
            return [TokenTiles(np.zeros((0, n, 64), np.float32), lead + (n,)) if out_tiles else y]
        y = kernels.linear_tiled(data, weight, m, in_tiles, out_tiles, bias, act, r)
        return [TokenTiles(y, lead + (n,)) if out_tiles else y.reshape(*lead, n)]

    return kernel
