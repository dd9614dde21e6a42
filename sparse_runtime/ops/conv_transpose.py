"""ConvTranspose (N-d, groups, strides, dilations, pads / auto_pad / output_shape,
output_padding): one batched matmul W^T @ X gives every (output channel, kernel tap, input
position) contribution; each kernel tap is then scatter-added into the output through a
strided slice (K vectorised adds), and the result is cropped by the pads.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..errors import OpError
from ._spatial import SpatialAttrs, check_conv_ranks, conv_group
from ._util import FLOATS, attr, opt
from .registry import register


def _pads(node, sp, in_sizes, ks, strides, dil, pads, out_pad, out_shape):
    """-> (pad_begin, out_sizes) per the ConvTranspose spec."""
    n = len(in_sizes)
    begin, out = [], []
    for i in range(n):
        full = strides[i] * (in_sizes[i] - 1) + out_pad[i] + dil[i] * (ks[i] - 1) + 1
        if out_shape is not None or sp.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            target = out_shape[i] if out_shape is not None else in_sizes[i] * strides[i]
            total = full - target
            b = total // 2 if sp.auto_pad == "SAME_UPPER" else total - total // 2
            begin.append(b)
            out.append(target)
        elif sp.auto_pad == "VALID":
            begin.append(0)
            out.append(full)
        else:
            begin.append(pads[i])
            out.append(full - pads[i] - pads[i + n])
        if out[-1] < 0:
            raise OpError(node, f"negative output size {out[-1]} on spatial axis {i}")
    return begin, out


@register("ConvTranspose", since=1, dtypes=FLOATS)
def conv_transpose(node, ctx):
    sp = SpatialAttrs(node)
    group = conv_group(node)
    output_padding = attr(node, "output_padding", None, list)
    output_shape = attr(node, "output_shape", None, list)

    def kernel(inputs):
        x, w, b = inputs[0], inputs[1], opt(inputs, 2)
        n_sp = check_conv_ranks(node, x, w)
        N, C = x.shape[:2]
        if w.shape[0] != C or C % group:
            raise OpError(node, f"W {w.shape} must have W[0] == C == {C}, divisible by group={group}")
        G, Cg, Mg = group, C // group, w.shape[1]
        M = Mg * G
        if b is not None and b.shape != (M,):
            raise OpError(node, f"bias must have shape ({M},), got {b.shape}")
        ks, strides, dil, pads = sp.resolve(w.shape[2:], n_sp)
        out_pad = output_padding or [0] * n_sp
        oshape = output_shape[-n_sp:] if output_shape else None
        if len(out_pad) != n_sp:
            raise OpError(node, f"output_padding must have {n_sp} entries, got {out_pad}")
        in_sizes = x.shape[2:]
        begin, out = _pads(node, sp, in_sizes, ks, strides, dil, pads, out_pad, oshape)
        K, I = math.prod(ks), math.prod(in_sizes)
        # (1, G, Mg*K, Cg) @ (N, G, Cg, I) -> (N, G, Mg*K, I) -> (N, M, K..., I...)
        wt = w.reshape(G, Cg, Mg * K).transpose(0, 2, 1)[None]
        cols = np.matmul(wt, x.reshape(N, G, Cg, I)).reshape((N, M) + tuple(ks) + tuple(in_sizes))
        # canvas holding every scattered tap plus whatever the crop window needs
        offset = [max(0, -bg) for bg in begin]
        span = [(i - 1) * s + d * (k - 1) + 1 for i, s, d, k in zip(in_sizes, strides, dil, ks)]
        size = [o + max(sp_, bg + ou) for o, sp_, bg, ou in zip(offset, span, begin, out)]
        canvas = np.zeros((N, M) + tuple(size), dtype=cols.dtype)
        for kk in itertools.product(*(range(k) for k in ks)):
            dst = (slice(None), slice(None)) + tuple(
                slice(o + k * d, o + k * d + (i - 1) * s + 1, s)
                for o, k, d, i, s in zip(offset, kk, dil, in_sizes, strides))
            canvas[dst] += cols[(slice(None), slice(None)) + kk]
        y = canvas[(slice(None), slice(None)) + tuple(
            slice(o + bg, o + bg + ou) for o, bg, ou in zip(offset, begin, out))]
        if b is not None:
            y = y + b.reshape((M,) + (1,) * n_sp)
        return [np.ascontiguousarray(y)]

    return kernel
