"""Geometry shared by Conv / ConvTranspose / pooling: attribute parsing, output sizes, padding
(explicit pads, auto_pad SAME_UPPER / SAME_LOWER / VALID, ceil_mode) and strided window slices.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import OpError
from ._util import attr

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


class SpatialAttrs:
    """kernel_shape / strides / dilations / pads / auto_pad of one node, validated once."""

    def __init__(self, node, kernel_required=False, allow_dilations=True):
        self.node = node
        self.auto_pad = attr(node, "auto_pad", "NOTSET", str, choices=AUTO_PADS)
        self.kernel_shape = (attr(node, "kernel_shape", kind=list) if kernel_required
                             else attr(node, "kernel_shape", None, list))
        self.strides = attr(node, "strides", None, list)
        self.dilations = attr(node, "dilations", None, list) if allow_dilations else None
        self.pads = attr(node, "pads", None, list)
        if self.pads is not None and self.auto_pad != "NOTSET" and any(self.pads):
            raise OpError(node, f"explicit pads {self.pads} conflict with auto_pad={self.auto_pad}")
        for name in ("kernel_shape", "strides", "dilations"):
            v = getattr(self, name)
            if v is not None and any(s < 1 for s in v):
                raise OpError(node, f"{name} must be positive, got {v}")
        if self.pads is not None and any(p < 0 for p in self.pads):
            raise OpError(node, f"pads must be non-negative, got {self.pads}")
        n = self.kernel_shape and len(self.kernel_shape)
        if n:
            self._check_len(n)

    def _check_len(self, n):
        for name, want in (("strides", n), ("dilations", n), ("pads", 2 * n)):
            v = getattr(self, name)
            if v is not None and len(v) != want:
                raise OpError(self.node, f"{name} must have {want} entries for {n} spatial dims, got {v}")

    def resolve(self, kernel_shape, n):
        """Fill defaults for an input with n spatial dims -> (kernel, strides, dilations, pads)."""
        if self.kernel_shape is not None and list(kernel_shape) != list(self.kernel_shape):
            raise OpError(self.node, f"kernel_shape {self.kernel_shape} does not match weight {list(kernel_shape)}")
        if len(kernel_shape) != n:
            raise OpError(self.node, f"kernel has {len(kernel_shape)} spatial dims, input has {n}")
        self._check_len(n)
        return (list(kernel_shape), self.strides or [1] * n, self.dilations or [1] * n,
                self.pads or [0] * (2 * n))


def conv_group(node) -> int:
    """Conv / ConvTranspose ``group`` attribute, validated."""
    group = attr(node, "group", 1, int)
    if group < 1:
        raise OpError(node, f"group must be >= 1, got {group}")
    return group


def check_conv_ranks(node, x, w) -> int:
    """Conv / ConvTranspose: X is (N, C, spatial...) and W has its rank -> number of spatial dims."""
    if x.ndim < 3 or w.ndim != x.ndim:
        raise OpError(node, f"expected X (N, C, spatial...) and W of the same rank, got {x.shape} and {w.shape}")
    return x.ndim - 2


def geometry(node, in_sizes, kernel, strides, dilations, pads, auto_pad, ceil_mode=False):
    """-> (pad_begin, pad_end, extra, out_sizes). ``extra`` is what the last window (ceil_mode)
    needs past pad_end; it is not part of the model's padding (pooling excludes it from counts)."""
    n = len(in_sizes)
    begin, end, out, extra = [], [], [], []
    for i in range(n):
        d_in, s, ek = in_sizes[i], strides[i], dilations[i] * (kernel[i] - 1) + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            o = -(-d_in // s)
            total = max((o - 1) * s + ek - d_in, 0)
            b = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            e = total - b
        else:
            b, e = (0, 0) if auto_pad == "VALID" else (pads[i], pads[i + n])
            span = d_in + b + e - ek
            if span < 0:
                raise OpError(node, f"kernel extent {ek} exceeds padded input size {d_in + b + e} on spatial axis {i}")
            o = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (o - 1) * s >= d_in + b:  # last window would start in the end padding
                o -= 1
        need = (o - 1) * s + ek - (d_in + b + e)
        begin.append(b)
        end.append(e)
        extra.append(max(need, 0))
        out.append(o)
    return begin, end, extra, out


def pad_spatial(x, begin, end, value=0):
    """Pad the spatial dims (2..) of an N, C, ... tensor; no copy when nothing to pad."""
    if not any(begin) and not any(end):
        return x
    widths = [(0, 0), (0, 0)] + list(zip(begin, end))
    return np.pad(x, widths, mode="constant", constant_values=value)


def window_slices(kernel, strides, dilations, out):
    """Yield (kernel offset tuple, index tuple) selecting, for each kernel tap, the input element
    every output position reads: xp[idx] has shape (N, C, *out)."""
    for kk in itertools.product(*(range(k) for k in kernel)):
        idx = (slice(None), slice(None)) + tuple(
            slice(k * d, k * d + (o - 1) * s + 1, s) for k, d, s, o in zip(kk, dilations, strides, out))
        yield kk, idx


def windows(xp, kernel, strides, dilations, out):
    """Read-only strided view (N, C, *out, *kernel) of a padded input (no copy)."""
    ss = xp.strides[2:]
    shape = xp.shape[:2] + tuple(out) + tuple(kernel)
    st = xp.strides[:2] + tuple(a * s for a, s in zip(ss, strides)) + tuple(a * d for a, d in zip(ss, dilations))
    return np.lib.stride_tricks.as_strided(xp, shape, st, writeable=False)
