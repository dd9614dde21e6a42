"""Size -> int64 scalar: number of elements."""
from __future__ import annotations

import numpy as np

from ._util import ALL
from .registry import register


@register("Size", since=1, dtypes=ALL)
def size(node, ctx):
    return lambda inputs: [np.array(inputs[0].size, dtype=np.int64)]
