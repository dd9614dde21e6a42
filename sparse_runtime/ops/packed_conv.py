"""PackedConv (domain sparse_runtime): 1-D/2-D NCHW convolution on packed weights, one packed
matrix per group, with bias and activation fused into the kernel's epilogue.

``x_blocked`` / ``y_blocked`` (set by passes/keep_blocked_activations.py): the input / the output
(and residual) are ``BlockedTensor`` (ops/_blocked.py) rather than NCHW arrays."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._blocked import BlockedTensor
from .registry import register


def _auto_pads(auto_pad: str, in_hw, kernel, strides, dilations):
    """ONNX auto_pad for one input size: (top, left, bottom, right)."""
    begin, end = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        if auto_pad == "VALID":
            begin.append(0)
            end.append(0)
            continue
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begin.append(big if auto_pad == "SAME_LOWER" else small)
        end.append(small if auto_pad == "SAME_LOWER" else big)
    return begin + end


def _out_shape(x_shape, groups, kernel, strides, pads, dilations):
    """NCHW output shape of the 2-D convolution (pads = top, left, bottom, right)."""
    out = [x_shape[0], sum(g.shape[0] for g in groups)]
    for i in range(2):
        span = x_shape[2 + i] + pads[i] + pads[2 + i] - ((kernel[i] - 1) * dilations[i] + 1)
        out.append(span // strides[i] + 1)
    return tuple(out)


@register("PackedConv", domain="sparse_runtime", native=True)
def packed_conv(node, ctx):
    groups = node.attrs["weights"]
    bias = node.attrs.get("bias")
    act = node.attrs.get("activation", "none")
    kernel_shape = list(node.attrs["kernel_shape"])
    spatial = len(kernel_shape)
    strides = list(node.attrs.get("strides") or [1] * spatial)
    dilations = list(node.attrs.get("dilations") or [1] * spatial)
    pads = list(node.attrs.get("pads") or [0] * (2 * spatial))
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if spatial not in (1, 2):
        raise OpError(node, f"PackedConv handles 1-D and 2-D kernels, got {spatial}-D")
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.float32)
    in_channels = groups[0].shape[1] // int(np.prod(kernel_shape)) * len(groups)
    x_blocked, y_blocked = bool(node.attrs.get("x_blocked")), bool(node.attrs.get("y_blocked"))
    # The plan-time fast path (fixed pads only: auto_pad depends on the input's size).
    op = None
    if spatial == 2 and auto_pad in ("NOTSET", ""):
        op = kernels.ConvOp(list(groups), bias, act, kernel_shape[0], kernel_shape[1], strides, pads, dilations,
                            x_blocked, y_blocked)
    if x_blocked or y_blocked:
        return _blocked_kernel(node, groups, bias, act, kernel_shape, strides, dilations, pads, auto_pad, in_channels,
                               op)
    if spatial == 1:  # a 1-D conv is a 2-D conv over a height of 1
        kernel_shape, strides, dilations = [1] + kernel_shape, [1] + strides, [1] + dilations
        pads = [0, pads[0], 0, pads[1]]

    def kernel(inputs):
        if op is not None:
            y = op.run(inputs[0], inputs[1] if len(inputs) > 1 else None)
            if y is not None:
                return [y]
        x = inputs[0]
        if x.dtype != np.float32:
            raise OpError(node, f"input '{node.inputs[0]}' must be float32, got {x.dtype}")
        if x.ndim != spatial + 2 or x.shape[1] != in_channels:
            raise OpError(node, f"input '{node.inputs[0]}' has shape {x.shape}, expected "
                                f"(N, {in_channels}, {', '.join(['*'] * spatial)})")
        x4 = np.ascontiguousarray(x if spatial == 2 else x[:, :, None, :])
        p = pads
        if auto_pad not in ("NOTSET", ""):
            p = _auto_pads(auto_pad, x4.shape[2:], kernel_shape, strides, dilations)
        r = inputs[1] if len(inputs) > 1 else None
        r4 = None if r is None or r.ndim != spatial + 2 else (r if spatial == 2 else r[:, :, None, :])
        # The kernel adds a residual of exactly the output's shape; one that broadcasts or
        # promotes is added the ONNX way afterwards, then activated.
        fused = r4 is not None and r4.dtype == np.float32 and \
            r4.shape == _out_shape(x4.shape, groups, kernel_shape, strides, p, dilations)
        try:
            y = kernels.conv2d(groups, x4, bias, kernel_shape, strides, p, dilations,
                               act if r is None or fused else "none",
                               residual=np.ascontiguousarray(r4) if fused else None)
        except ValueError as e:
            raise OpError(node, str(e)) from None
        y = y if spatial == 2 else y[:, :, 0, :]
        if r is not None and not fused:
            y = np.ascontiguousarray(y + r)
            if y.dtype != np.float32:
                raise OpError(node, f"residual '{node.inputs[1]}' has dtype {r.dtype}, expected float32")
            kernels.activation_(y, act)
        return [y]

    return kernel


def _blocked_kernel(node, groups, bias, act, kernel_shape, strides, dilations, pads, auto_pad, in_channels, op):
    """A 2-D PackedConv of a blocked region: x and/or y (with the residual) are BlockedTensor."""
    x_blocked, y_blocked = bool(node.attrs.get("x_blocked")), bool(node.attrs.get("y_blocked"))
    out_channels = sum(g.shape[0] for g in groups)
    x_type, y_type = (BlockedTensor if b else np.ndarray for b in (x_blocked, y_blocked))
    x_kind, y_kind = ("BlockedTensor" if b else "float32 array" for b in (x_blocked, y_blocked))

    def kernel(inputs):
        x = inputs[0]
        r = inputs[1] if len(inputs) > 1 else None
        if op is not None and type(x) is x_type and x.shape[1] == in_channels and (r is None or type(r) is y_type):
            y = op.run(x.data if x_blocked else x, r.data if y_blocked and r is not None else r)
            if y is not None:
                return [BlockedTensor(y, (y.shape[0], out_channels, y.shape[2], y.shape[3])) if y_blocked else y]
        return general(inputs)

    def general(inputs):
        """The checked path: every mismatch becomes an OpError naming the input."""
        x = inputs[0]
        if type(x) is not (BlockedTensor if x_blocked else np.ndarray) or x.dtype != np.float32:
            raise OpError(node, f"input '{node.inputs[0]}' must be a {x_kind}, got {type(x).__name__} "
                                f"of dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != in_channels:
            raise OpError(node, f"input '{node.inputs[0]}' has shape {x.shape}, expected (N, {in_channels}, *, *)")
        p = pads
        if auto_pad not in ("NOTSET", ""):
            p = _auto_pads(auto_pad, x.shape[2:], kernel_shape, strides, dilations)
        residual = None
        if len(inputs) > 1:
            r = inputs[1]
            want = _out_shape(x.shape, groups, kernel_shape, strides, p, dilations)
            if type(r) is not (BlockedTensor if y_blocked else np.ndarray) or r.dtype != np.float32 \
                    or tuple(r.shape) != want:
                raise OpError(node, f"residual '{node.inputs[1]}' must be a {y_kind} of shape {want}, got "
                                    f"{type(r).__name__} {getattr(r, 'shape', None)}")
            residual = r.data if y_blocked else np.ascontiguousarray(r)
        try:
            y = kernels.conv2d(groups, x.data if x_blocked else np.ascontiguousarray(x), bias, kernel_shape, strides,
                               p, dilations, act, residual=residual, x_blocked=x_blocked, y_blocked=y_blocked)
        except ValueError as e:
            raise OpError(node, str(e)) from None
        if y_blocked:
            return [BlockedTensor(y, (y.shape[0], out_channels, y.shape[2], y.shape[3]))]
        return [y]

    return kernel
