"""Det (opset 11): determinant of the trailing 2-D matrices."""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, as_array
from .registry import register


@register("Det", since=11, dtypes=FLOATS)
def det(node, ctx):
    return lambda inputs: [as_array(np.linalg.det(inputs[0]).astype(inputs[0].dtype))]
