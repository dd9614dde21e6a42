"""BlockedTensor: an NCHW activation that dense convolutions hand each other channel-blocked.

Blocked means [N, ceil(C/32), H, W, 32] (formats.h, kChannelBlock): channel c of pixel (h, w)
is ``data[n, c // 32, h, w, c % 32]``, the last block's padding channels zero. A conv's tile
holds a pixel's 32 outputs, so it stores them as one contiguous run of that layout, and the next
conv reads a pixel's channels of a block as one run too: no transposes, tile copies or scattered
stores between layers (passes/keep_blocked_activations.py picks the values). Only the ops that
pass marks exchange these; they never reach a graph output or any other op.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ._layout_value import LayoutValue


class BlockedTensor(LayoutValue):
    """``data``: float32 [N, ceil(C/32), H, W, 32]; ``shape``: the logical NCHW shape."""

    __slots__ = ()

    @classmethod
    def from_nchw(cls, x: np.ndarray) -> "BlockedTensor":
        return cls(kernels.to_blocked(np.ascontiguousarray(x, dtype=np.float32)), x.shape)

    def to_nchw(self) -> np.ndarray:
        return kernels.from_blocked(self.data, self.shape[1])

    def __repr__(self) -> str:
        return f"BlockedTensor(shape={self.shape})"
