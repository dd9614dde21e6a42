"""Shape -> int64 1-D; opset 15 adds ``start``/``end`` (Python-style slicing, clamped)."""
from __future__ import annotations

import numpy as np

from ._util import ALL, attr
from .registry import register


@register("Shape", since=1, dtypes=ALL)
def shape(node, ctx):
    start = attr(node, "start", 0, int)
    end = attr(node, "end", None, int)
    # Python slicing already clamps out-of-range starts/ends and wraps negatives exactly as ONNX says.
    return lambda inputs: [np.array(inputs[0].shape[start:end], dtype=np.int64)]
