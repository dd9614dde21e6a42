"""PackedConv (domain sparse_runtime): 1-D/2-D NCHW convolution on packed weights, one packed
matrix per group, with bias and activation fused into the kernel's epilogue."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
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
    if spatial == 1:  # a 1-D conv is a 2-D conv over a height of 1
        kernel_shape, strides, dilations = [1] + kernel_shape, [1] + strides, [1] + dilations
        pads = [0, pads[0], 0, pads[1]]

    def kernel(inputs):
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
        try:
            y = kernels.conv2d(groups, x4, bias, kernel_shape, strides, p, dilations, act)
        except ValueError as e:
            raise OpError(node, str(e)) from None
        return [y if spatial == 2 else y[:, :, 0, :]]

    return kernel
