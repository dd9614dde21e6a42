"""Binary arithmetic with numpy (multidirectional) broadcasting: Add Sub Mul Div Pow.

Opset < 7 spelled broadcasting with ``broadcast``/``axis`` attributes (B aligned to A starting
at ``axis``); we honour that by reshaping B, so old models run too.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._util import FLOATS, NUMERIC, as_array, attr
from .registry import register


def _legacy_broadcast(node, ctx):
    """Return a function reshaping B per the opset<7 ``broadcast``/``axis`` rule (or None)."""
    if ctx.opset >= 7 or not attr(node, "broadcast", 0, int):
        return None
    axis = attr(node, "axis", None, int)

    def align(a, b):
        if axis is None or b.ndim == 0:
            return b  # suffix alignment == numpy broadcasting
        start = axis + a.ndim if axis < 0 else axis
        trailing = a.ndim - start - b.ndim
        if trailing < 0:
            raise OpError(node, f"legacy broadcast: B shape {b.shape} does not fit A shape {a.shape} at axis {axis}")
        return b.reshape(b.shape + (1,) * trailing)

    return align


_F32 = np.dtype(np.float32)


def _binary(ufunc):
    def factory(node, ctx):
        align = _legacy_broadcast(node, ctx)
        native = kernels.add if ufunc is np.add else None

        def kernel(inputs):
            a, b = inputs[0], inputs[1]
            # Same-shape float32 adds of 16K+ elements run on the pool (BERT's embedding sums:
            # numpy took 40-55 us each between kernels, with cold caches and one thread).
            if (native is not None and type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == _F32
                    and b.dtype == _F32 and a.shape == b.shape and a.size >= 16384 and a.flags.c_contiguous
                    and b.flags.c_contiguous):
                try:
                    return [native(a, b)]
                except (TypeError, ValueError):
                    pass  # not what the native add takes after all: numpy below
            if align is not None:
                b = align(a, b)
            r = ufunc(a, b)
            # ONNX requires equal input types; if a model mixes them, keep A's type (as ORT does).
            if r.dtype != a.dtype:
                r = r.astype(a.dtype)
            return [as_array(r)]

        return kernel

    return factory


register("Add", since=1, dtypes=NUMERIC)(_binary(np.add))
register("Sub", since=1, dtypes=NUMERIC)(_binary(np.subtract))
register("Mul", since=1, dtypes=NUMERIC)(_binary(np.multiply))


def _int_div(a, b):
    """C-style integer division (truncate toward zero); x/0 gives 0 instead of trapping."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if a.dtype.kind == "u" and b.dtype.kind == "u":
            return np.floor_divide(a, b)
        # a - fmod(a, b) is an exact multiple of b, so floor division of it is exact truncation.
        return np.floor_divide(a - np.fmod(a, b), b)


def _div(a, b):
    return _int_div(a, b) if a.dtype.kind in "iu" else np.true_divide(a, b)


register("Div", since=1, dtypes=NUMERIC)(_binary(_div))


@register("Pow", since=1, dtypes=FLOATS + ("int32", "int64"))
def pow_(node, ctx):
    """Output keeps the base's dtype (ONNX Pow(T, T1) -> T)."""
    align = _legacy_broadcast(node, ctx)
    exp_const = ctx.const(node.inputs[1]) if len(node.inputs) > 1 else None
    fast = None
    if exp_const is not None and exp_const.size == 1 and align is None:
        e = float(exp_const.reshape(-1)[0])
        # x**2 and x**0.5 are common (decomposed LayerNorm / GELU); skip the generic power loop.
        fast = {2.0: np.square, 1.0: lambda x: x.copy(), 0.5: np.sqrt}.get(e)

    def kernel(inputs):
        a, b = inputs[0], inputs[1]
        if fast is not None and a.dtype.kind == "f" and a.ndim >= exp_const.ndim:
            return [as_array(fast(a))]
        if align is not None:
            b = align(a, b)
        if a.dtype.kind == "f" and b.dtype != a.dtype:
            b = b.astype(a.dtype)  # compute in the base's precision, not float64
        if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
            # numpy refuses integer ** negative integer; C semantics give 1/x**n truncated.
            r = np.power(a.astype(np.float64), b.astype(np.float64))
            r = np.trunc(r)
        else:
            r = np.power(a, b)
        if r.dtype != a.dtype:
            r = r.astype(a.dtype)
        return [as_array(r)]

    return kernel
