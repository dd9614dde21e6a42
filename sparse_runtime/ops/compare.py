"""Comparisons with broadcasting: Equal Less LessOrEqual Greater GreaterOrEqual -> bool."""
from __future__ import annotations

import numpy as np

from ._util import NUMERIC, as_array
from .registry import register


def _compare(ufunc):
    def factory(node, ctx):
        return lambda inputs: [as_array(ufunc(inputs[0], inputs[1]))]

    return factory


# Equal also accepts bool and (opset 19) string tensors; numpy object arrays of str compare fine.
register("Equal", since=1, dtypes=NUMERIC + ("bool", "string"))(_compare(np.equal))
register("Less", since=1, dtypes=NUMERIC)(_compare(np.less))
register("LessOrEqual", since=12, dtypes=NUMERIC)(_compare(np.less_equal))
register("Greater", since=1, dtypes=NUMERIC)(_compare(np.greater))
register("GreaterOrEqual", since=12, dtypes=NUMERIC)(_compare(np.greater_equal))
