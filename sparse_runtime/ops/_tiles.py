"""TokenTiles: activations one PackedMatMul hands to the next still channels-major.

A row-major [m, n] activation as the kernels want it is ``tile_count(m)`` blocks of [n][64]
tokens (ops.h, "token tiles"). Between two consecutive linears (BERT's FFN, an MLP) the first can
leave its output that way and the second read it so, saving the transpose back to rows and the
one forward again (passes/keep_token_tiles.py pairs them). Only such pairs exchange these; they
never reach a graph output or any other op.
"""
from __future__ import annotations

import math

from ._layout_value import LayoutValue


class TokenTiles(LayoutValue):
    """``data``: float32 [tiles, n, 64]; ``shape``: the logical row-major shape (..., n) with the
    original leading dims."""

    __slots__ = ()

    @property
    def tokens(self) -> int:
        # math.prod, not np.prod: this runs between two kernels, where numpy's reduction machinery
        # measured 50 us (cold caches) against under 1 us for this.
        return math.prod(self.shape[:-1])

    def __repr__(self) -> str:
        return f"TokenTiles(shape={self.shape}, tiles={self.data.shape[0]})"
