"""QuantizeLinear / DequantizeLinear (opset 10; per-axis from 13, blocked from 21) and
DynamicQuantizeLinear (11), for 8/16/32-bit integer types.

Scales broadcast three ways: per tensor (a scalar or 1-element), per axis (1-D of x.shape[axis]),
or blocked (same rank as x, ``ceil(x.shape[axis] / block_size)`` along ``axis``). Quantization
rounds half to even and saturates to the target type, as the spec says. float8/int4/int2/float4
targets are not supported (no numpy dtype on our paths): they fail at compile time.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..errors import OpError, UnsupportedOpError
from ._util import FLOATS, attr, norm_axis, opt
from .registry import register

_INT_TYPES = ("int8", "uint8", "int16", "uint16", "int32")


def _broadcast(node, param, x, axis, block):
    """Reshape/repeat a scale or zero point so it broadcasts against x."""
    if param.ndim == 0 or param.size == 1 and block == 0:
        return param.reshape(())
    ax = norm_axis(node, axis, x.ndim)
    if block > 0:
        if param.ndim != x.ndim:
            raise OpError(node, f"blocked quantization: scale rank {param.ndim} != input rank {x.ndim}")
        return np.repeat(param, block, axis=ax).take(np.arange(x.shape[ax]), axis=ax)
    if param.ndim != 1 or param.shape[0] != x.shape[ax]:
        raise OpError(node, f"per-axis scale must be 1-D of length {x.shape[ax]} (axis {ax}), got {param.shape}")
    shape = [1] * x.ndim
    shape[ax] = -1
    return param.reshape(shape)


def _target_dtype(node, declared):
    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(declared))
    except (KeyError, TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.name not in _INT_TYPES:
        raise UnsupportedOpError(f"{node.describe()}: quantized type {helper.tensor_dtype_to_string(declared) if dtype is None else dtype} "
                                 f"is not supported (supported: {', '.join(_INT_TYPES)})")
    return dtype


def _zero_point_type(node, ctx, index):
    """The zero point's element type from compile-time info (initializer or inferred value info)."""
    name = node.inputs[index] if index < len(node.inputs) else ""
    if not name:
        return None
    const = ctx.const(name)
    if const is not None:
        return const.dtype
    vi = ctx.value_info(name)
    return vi.dtype if vi is not None else None


def _check_type(node, dtype):
    if dtype is not None and np.dtype(dtype).name not in _INT_TYPES:
        raise UnsupportedOpError(f"{node.describe()}: quantized type {dtype} is not supported "
                                 f"(supported: {', '.join(_INT_TYPES)})")


@register("QuantizeLinear", since=10, dtypes=FLOATS)
def quantize_linear(node, ctx):
    axis = attr(node, "axis", 1, int)
    block = attr(node, "block_size", 0, int)
    declared = attr(node, "output_dtype", 0, int)
    zp_type = _zero_point_type(node, ctx, 2)
    out_dtype = _target_dtype(node, declared) if declared else (np.dtype(zp_type) if zp_type is not None else None)
    _check_type(node, out_dtype)

    def kernel(inputs):
        x, scale, zp = inputs[0], inputs[1], opt(inputs, 2)
        dtype = out_dtype or (zp.dtype if zp is not None else np.dtype(np.uint8))
        q = np.rint(x.astype(np.float32) / _broadcast(node, scale, x, axis, block).astype(np.float32))
        if zp is not None:
            q = q + _broadcast(node, zp, x, axis, block).astype(np.float32)
        info = np.iinfo(dtype)
        return [np.clip(q, info.min, info.max).astype(dtype)]

    return kernel


@register("DequantizeLinear", since=10, dtypes=_INT_TYPES)
def dequantize_linear(node, ctx):
    axis = attr(node, "axis", 1, int)
    block = attr(node, "block_size", 0, int)
    declared = attr(node, "output_dtype", 0, int)
    _check_type(node, _zero_point_type(node, ctx, 0))
    vi = ctx.value_info(node.inputs[0])
    _check_type(node, vi.dtype if vi is not None else None)

    def kernel(inputs):
        x, scale, zp = inputs[0], inputs[1], opt(inputs, 2)
        _check_type(node, x.dtype)
        out = np.dtype(helper.tensor_dtype_to_np_dtype(declared)) if declared else scale.dtype
        v = x.astype(np.int64)
        if zp is not None:
            v = v - _broadcast(node, zp, x, axis, block).astype(np.int64)
        return [(v.astype(np.float32) * _broadcast(node, scale, x, axis, block)).astype(out)]

    return kernel


@register("DynamicQuantizeLinear", since=11, dtypes=("float32",))
def dynamic_quantize_linear(node, ctx):
    def kernel(inputs):
        x = inputs[0].astype(np.float32)
        lo = min(0.0, float(x.min())) if x.size else 0.0
        hi = max(0.0, float(x.max())) if x.size else 0.0
        scale = np.float32((hi - lo) / 255.0)
        if scale == 0:  # all zeros: any scale works; avoid 0/0
            scale = np.float32(1.0)
        zp = np.uint8(np.clip(np.rint(0 - lo / scale), 0, 255))
        y = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.uint8)
        return [y, np.array(scale, np.float32), np.array(zp, np.uint8)]

    return kernel
