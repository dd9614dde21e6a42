"""SpaceToDepth: the inverse of DepthToSpace (DCR order)."""
from __future__ import annotations

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("SpaceToDepth", since=1, dtypes=ALL)
def space_to_depth(node, ctx):
    bs = attr(node, "blocksize", kind=int)
    if bs < 1:
        raise OpError(node, f"blocksize must be >= 1, got {bs}")

    def kernel(inputs):
        x = inputs[0]
        if x.ndim != 4 or x.shape[2] % bs or x.shape[3] % bs:
            raise OpError(node, f"expected NCHW input with H and W divisible by {bs}, got {x.shape}")
        n, c, h, w = x.shape
        t = x.reshape(n, c, h // bs, bs, w // bs, bs).transpose(0, 3, 5, 1, 2, 4)
        return [t.reshape(n, c * bs * bs, h // bs, w // bs)]

    return kernel
