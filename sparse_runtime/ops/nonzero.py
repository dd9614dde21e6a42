"""NonZero -> int64 [rank, nnz] coordinates in row-major order."""
from __future__ import annotations

import numpy as np

from ._util import ALL
from .registry import register


@register("NonZero", since=9, dtypes=ALL)
def nonzero(node, ctx):
    def kernel(inputs):
        x = inputs[0]
        if x.ndim == 0:  # numpy refuses nonzero() on 0-d arrays; a scalar has rank 0
            return [np.zeros((0, 1 if x.item() else 0), dtype=np.int64)]
        return [np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)]

    return kernel
