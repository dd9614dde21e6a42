"""CumSum / CumProd along the ``axis`` input; ``exclusive`` shifts by one (filling with the
identity, 0 or 1), ``reverse`` accumulates from the end."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import NUMERIC, attr, norm_axis
from .registry import register


def _cumulative(func, identity):
    def factory(node, ctx):
        return _compile(node, func, identity)

    return factory


def _compile(node, func, identity):
    exclusive = attr(node, "exclusive", 0, int, choices=(0, 1))
    reverse = attr(node, "reverse", 0, int, choices=(0, 1))

    def kernel(inputs):
        x, axis = inputs
        if np.asarray(axis).size != 1:
            raise OpError(node, f"axis must be a scalar, got shape {np.shape(axis)}")
        ax = norm_axis(node, int(np.asarray(axis).reshape(-1)[0]), x.ndim)
        src = np.flip(x, ax) if reverse else x
        out = func(src, axis=ax, dtype=x.dtype)  # dtype= stops int32 -> int64 promotion
        if exclusive:
            shifted = np.full_like(out, identity)
            dst = [slice(None)] * x.ndim
            sl = [slice(None)] * x.ndim
            dst[ax], sl[ax] = slice(1, None), slice(None, -1)
            shifted[tuple(dst)] = out[tuple(sl)]
            out = shifted
        return [np.flip(out, ax) if reverse else out]

    return kernel


register("CumSum", since=11, dtypes=NUMERIC)(_cumulative(np.cumsum, 0))
register("CumProd", since=26, dtypes=NUMERIC)(_cumulative(np.cumprod, 1))
