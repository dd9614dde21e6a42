"""DepthToSpace: move channel blocks into spatial blocks. mode DCR (depth-column-row, default)
or CRD (column-row-depth, opset 11)."""
from __future__ import annotations

from ..errors import OpError
from ._util import ALL, attr
from .registry import register


@register("DepthToSpace", since=1, dtypes=ALL)
def depth_to_space(node, ctx):
    bs = attr(node, "blocksize", kind=int)
    mode = attr(node, "mode", "DCR", str, choices=("DCR", "CRD"))
    if bs < 1:
        raise OpError(node, f"blocksize must be >= 1, got {bs}")

    def kernel(inputs):
        x = inputs[0]
        if x.ndim != 4 or x.shape[1] % (bs * bs):
            raise OpError(node, f"expected NCHW input with C divisible by {bs * bs}, got {x.shape}")
        n, c, h, w = x.shape
        oc = c // (bs * bs)
        if mode == "DCR":
            t = x.reshape(n, bs, bs, oc, h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            t = x.reshape(n, oc, bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
        return [t.reshape(n, oc, h * bs, w * bs)]

    return kernel
