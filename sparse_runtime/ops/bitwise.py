"""Integer bit operations: BitShift (opset 11) and BitwiseAnd/Or/Xor/Not (opset 18)."""
from __future__ import annotations

import numpy as np

from ._util import INTS, as_array, attr
from .registry import register


@register("BitShift", since=11, dtypes=("uint8", "uint16", "uint32", "uint64"))
def bit_shift(node, ctx):
    func = {"LEFT": np.left_shift, "RIGHT": np.right_shift}[
        attr(node, "direction", kind=str, choices=("LEFT", "RIGHT"))]

    def kernel(inputs):
        x, y = inputs
        return [as_array(func(x, y).astype(x.dtype, copy=False))]

    return kernel


def _bitwise(func):
    def factory(node, ctx):
        return lambda inputs: [as_array(func(*inputs))]

    return factory


for _op, _func in {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or,
                   "BitwiseXor": np.bitwise_xor, "BitwiseNot": np.invert}.items():
    register(_op, since=18, dtypes=INTS)(_bitwise(_func))
