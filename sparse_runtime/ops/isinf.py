"""IsInf -> bool; detect_negative / detect_positive select which infinities count."""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, as_array, attr
from .registry import register


@register("IsInf", since=10, dtypes=FLOATS)
def isinf(node, ctx):
    neg = attr(node, "detect_negative", 1, int, choices=(0, 1))
    pos = attr(node, "detect_positive", 1, int, choices=(0, 1))
    if neg and pos:
        fn = np.isinf
    elif pos:
        fn = np.isposinf
    elif neg:
        fn = np.isneginf
    else:
        fn = lambda x: np.zeros(x.shape, dtype=bool)  # noqa: E731 - nothing detected
    return lambda inputs: [as_array(fn(inputs[0]))]
