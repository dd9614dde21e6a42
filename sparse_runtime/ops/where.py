"""Where(cond, X, Y) with three-way broadcasting."""
from __future__ import annotations

import numpy as np

from ._util import ALL
from .registry import register


@register("Where", since=9, dtypes=ALL)
def where(node, ctx):
    return lambda inputs: [np.where(inputs[0], inputs[1], inputs[2])]
