"""Softmax / LogSoftmax / Hardmax.

Opset < 13: the input is coerced to 2-D [prod(shape[:axis]), prod(shape[axis:])] (axis default
1) and normalised per row. Opset >= 13: normalised along ``axis`` only (default -1).
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from ._util import FLOATS, attr, norm_axis
from .registry import register


def _softmax(x, axis):
    e = np.subtract(x, np.max(x, axis=axis, keepdims=True))  # fresh buffer, reused below
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def _native_or_numpy_softmax(x, axis):
    # The hot case in transformers: float32 over the last axis runs on the native kernels.
    if x.dtype == np.float32 and axis == x.ndim - 1 and x.size:
        return kernels.softmax(x)
    return _softmax(x, axis)


def _log_softmax(x, axis):
    d = np.subtract(x, np.max(x, axis=axis, keepdims=True))
    d -= np.log(np.sum(np.exp(d), axis=axis, keepdims=True))
    return d


def _hardmax(x, axis):
    out = np.zeros_like(x)
    np.put_along_axis(out, np.argmax(x, axis=axis, keepdims=True), 1, axis=axis)
    return out


def _family(func):
    def factory(node, ctx):
        legacy = ctx.opset < 13
        axis = attr(node, "axis", 1 if legacy else -1, int)

        def kernel(inputs):
            x = inputs[0]
            if x.ndim == 0:
                return [func(x.reshape(1), 0).reshape(())]
            ax = norm_axis(node, axis, x.ndim)
            if legacy and ax != x.ndim - 1:
                rows = math.prod(x.shape[:ax])
                flat = x.reshape(rows, math.prod(x.shape[ax:]))
                return [func(flat, 1).reshape(x.shape)]
            return [func(x, ax)]

        return kernel

    return factory


register("Softmax", since=1, dtypes=FLOATS)(_family(_native_or_numpy_softmax))
register("LogSoftmax", since=1, dtypes=FLOATS)(_family(_log_softmax))
register("Hardmax", since=1, dtypes=FLOATS)(_family(_hardmax))
