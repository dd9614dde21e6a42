"""IsNaN -> bool."""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, as_array
from .registry import register


@register("IsNaN", since=9, dtypes=FLOATS)
def isnan(node, ctx):
    return lambda inputs: [as_array(np.isnan(inputs[0]))]
