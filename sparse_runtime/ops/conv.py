"""Conv (1-D/2-D/3-D, groups, strides, dilations, pads, auto_pad): numpy im2col + batched matmul.

This is the general fallback, used when the weight is not a constant (constant weights are
lowered to the native PackedConv). The input is padded once, every kernel tap is a strided
view of it, and the taps are gathered into one (G, N, Cg*K, O) column matrix so a single
batched matmul (G, 1, Mg, Cg*K) @ (G, N, Cg*K, O) produces the output already in N, M, O order.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import OpError
from ._spatial import SpatialAttrs, check_conv_ranks, conv_group, geometry, pad_spatial, windows
from ._util import FLOATS, opt
from .registry import register


@register("Conv", since=1, dtypes=FLOATS)
def conv(node, ctx):
    sp = SpatialAttrs(node)
    group = conv_group(node)

    def kernel(inputs):
        x, w, b = inputs[0], inputs[1], opt(inputs, 2)
        n_sp = check_conv_ranks(node, x, w)
        N, C = x.shape[:2]
        M, Cg = w.shape[:2]
        if C != Cg * group or M % group:
            raise OpError(node, f"channels do not match group={group}: X has C={C}, W is {w.shape} "
                                f"(expected W[1]*group == C and M % group == 0)")
        if b is not None and b.shape != (M,):
            raise OpError(node, f"bias must have shape ({M},), got {b.shape}")
        ks, strides, dil, pads = sp.resolve(w.shape[2:], n_sp)
        begin, end, extra, out = geometry(node, x.shape[2:], ks, strides, dil, pads, sp.auto_pad)
        xp = pad_spatial(x, begin, [e + x_ for e, x_ in zip(end, extra)])
        G, Mg, K, O = group, M // group, math.prod(ks), math.prod(out)
        win = windows(xp, ks, strides, dil, out).reshape((N, G, Cg) + tuple(out) + tuple(ks))
        # (N, G, Cg, O..., K...) -> (G, N, Cg, K..., O...): the reshape below is the im2col copy
        perm = (1, 0, 2) + tuple(range(3 + n_sp, 3 + 2 * n_sp)) + tuple(range(3, 3 + n_sp))
        cols = win.transpose(perm).reshape(G, N, Cg * K, O)
        y = np.matmul(w.reshape(G, 1, Mg, Cg * K), cols)  # (G, N, Mg, O)
        y = y.transpose(1, 0, 2, 3).reshape((N, M) + tuple(out))  # a view when G == 1
        if b is not None:
            y += b.reshape((M,) + (1,) * n_sp)
        return [y]

    return kernel
