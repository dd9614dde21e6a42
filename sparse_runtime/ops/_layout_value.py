"""LayoutValue: an activation kept in a kernel's own layout between two ops that agree on it.

TokenTiles (_tiles.py) and BlockedTensor (_blocked.py) are the two; each says its layout and
which passes pair the ops that exchange it.
"""
from __future__ import annotations

import numpy as np


class LayoutValue:
    """``data``: the array in the kernels' layout; ``shape``: the logical shape of the ONNX value,
    so profiles and FLOP counts see the value's shape."""

    __slots__ = ("data", "shape", "dtype")

    def __init__(self, data: np.ndarray, shape: tuple):
        self.data = data
        self.shape = tuple(shape)
        self.dtype = data.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)
