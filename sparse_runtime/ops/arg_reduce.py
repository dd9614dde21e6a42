"""ArgMax / ArgMin -> int64 along ``axis``; ``select_last_index`` (opset 12) picks the last
of tied extremes (done by flipping, since numpy returns the first)."""
from __future__ import annotations

import numpy as np

from ._util import NUMERIC, attr, norm_axis
from .registry import register


def _arg(func):
    def factory(node, ctx):
        axis = attr(node, "axis", 0, int)
        keep = bool(attr(node, "keepdims", 1, int, choices=(0, 1)))
        last = attr(node, "select_last_index", 0, int, choices=(0, 1))

        def kernel(inputs):
            x = inputs[0]
            ax = norm_axis(node, axis, x.ndim)
            if last:
                idx = x.shape[ax] - 1 - func(np.flip(x, ax), axis=ax, keepdims=keep)
            else:
                idx = func(x, axis=ax, keepdims=keep)
            return [np.asarray(idx, dtype=np.int64)]

        return kernel

    return factory


register("ArgMax", since=1, dtypes=NUMERIC)(_arg(np.argmax))
register("ArgMin", since=1, dtypes=NUMERIC)(_arg(np.argmin))
