"""Cast (target type from the ``to`` attribute) and CastLike (target type of a second input).

Both share one conversion: numpy ``astype`` truncates float -> int toward zero like C, maps
nonzero -> True for bool, and parses/prints numbers for string tensors (object arrays of str).
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


def onnx_to_np_dtype(node, to):
    if to == TensorProto.STRING:
        return np.dtype(object)
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(to))
    except (KeyError, TypeError, ValueError):
        raise OpError(node, f"unsupported target element type {to} "
                            f"({TensorProto.DataType.Name(to) if to in TensorProto.DataType.values() else '?'})") from None


def convert(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if x.dtype == dtype:
        return x  # Cast to the same type is the identity; no copy needed
    if dtype == object:  # numbers -> str; numpy scalars print the shortest round-trip form
        return np.array([str(v) for v in x.reshape(-1)], dtype=object).reshape(x.shape)
    if x.dtype == object:  # str -> numbers
        if dtype == np.bool_:
            return np.array([s not in ("", "0", "false", "False") for s in x.reshape(-1)],
                            dtype=bool).reshape(x.shape)
        return x.astype(np.float64).astype(dtype) if dtype.kind in "iu" else x.astype(dtype)
    return x.astype(dtype)


@register("Cast", since=1, dtypes=ALL)
def cast(node, ctx):
    if ctx.opset < 6 and isinstance(node.attrs.get("to"), str):
        # opset 1-5 spelled the target as a string ("FLOAT")
        name = node.attrs["to"].upper()
        if name not in TensorProto.DataType.keys():
            raise OpError(node, f"attribute 'to' must name a tensor type, got {name!r}")
        to = TensorProto.DataType.Value(name)
    else:
        to = attr(node, "to", kind=int)
    dtype = onnx_to_np_dtype(node, to)
    return lambda inputs: [convert(inputs[0], dtype)]


@register("CastLike", since=15, dtypes=ALL)
def cast_like(node, ctx):
    return lambda inputs: [convert(inputs[0], inputs[1].dtype)]
