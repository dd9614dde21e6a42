"""N-ary elementwise ops with broadcasting: Min Max Sum Mean (fold a binary ufunc)."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import NUMERIC, as_array
from .registry import register


def _fold(ufunc, mean=False):
    def factory(node, ctx):
        if not node.inputs:
            raise OpError(node, "expected at least 1 input, got 0")
        n = len(node.inputs)

        def kernel(inputs):
            acc = inputs[0]
            if n == 1:
                return [acc]
            acc = as_array(ufunc(acc, inputs[1]))  # fresh buffer; later steps reuse it when shapes allow
            for x in inputs[2:]:
                if np.broadcast_shapes(acc.shape, x.shape) == acc.shape and acc.dtype == x.dtype:
                    ufunc(acc, x, out=acc)
                else:
                    acc = as_array(ufunc(acc, x))
            if mean:
                acc = acc / n if acc.dtype.kind == "f" else acc // n
            if acc.dtype != inputs[0].dtype:
                acc = acc.astype(inputs[0].dtype)
            return [as_array(acc)]

        return kernel

    return factory


register("Min", since=6, dtypes=NUMERIC)(_fold(np.minimum))
register("Max", since=6, dtypes=NUMERIC)(_fold(np.maximum))
register("Sum", since=6, dtypes=NUMERIC)(_fold(np.add))
register("Mean", since=6, dtypes=("float16", "float32", "float64"))(_fold(np.add, mean=True))
