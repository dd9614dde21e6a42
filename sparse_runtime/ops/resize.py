"""Resize (opset 10/11/13/18/19) and Upsample (opset 7/9): nearest, linear and cubic, any rank.

Interpolation is separable, so we resize one axis at a time: per axis we compute, once per
call, the source taps (indices, shape [out, T]) and their weights, then gather + weighted sum
with vectorised numpy. Semantics follow the ONNX spec / reference implementation:
* output size: floor(in * scale), or ``sizes`` (with keep_aspect_ratio_policy, opset 18);
* the coordinate transform maps output index -> fractional input coordinate;
* taps outside the input are clamped to the edge (exclude_outside=1 drops them instead);
* tf_crop_and_resize writes extrapolation_value where the coordinate leaves [0, in-1].
Before opset 11 (and for Upsample) coordinates are 'asymmetric' and nearest truncates when
upsampling / rounds up when downsampling, matching onnxruntime's legacy behaviour.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, norm_axes, opt
from .registry import register

_MODES = ("nearest", "linear", "cubic")
_COORDS = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
           "asymmetric", "tf_crop_and_resize")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "legacy")


def _source_coords(coord_mode, out_len, in_len, scale, roi):
    x = np.arange(out_len, dtype=np.float64)
    if coord_mode == "asymmetric":
        return x / scale
    if coord_mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if coord_mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.full(out_len, -0.5)
    if coord_mode == "half_pixel_symmetric":
        adjustment = out_len / (scale * in_len)
        offset = in_len / 2 * (1 - adjustment)
        return offset + (x + 0.5) / scale - 0.5
    if coord_mode == "align_corners":
        return x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    # tf_crop_and_resize
    start, end = roi
    if out_len > 1:
        return start * (in_len - 1) + x * (end - start) * (in_len - 1) / (out_len - 1)
    return np.full(out_len, (start + end) * (in_len - 1) / 2)


def _cubic_weights(r, a):
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 from floor(x)."""
    def near(t):  # |t| <= 1
        return ((a + 2) * t - (a + 3)) * t * t + 1

    def far(t):  # 1 < |t| < 2
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    return np.stack([far(r + 1), near(r), near(1 - r), far(2 - r)], axis=1)


def _taps(mode, nearest_mode, coords, in_len, scale, cubic_a, exclude_outside):
    """-> (indices [out, T] clamped into [0, in_len), weights [out, T] or None for nearest)."""
    if mode == "nearest":
        fl = np.floor(coords)
        frac = coords - fl
        if nearest_mode == "round_prefer_floor":
            pick = np.where(frac > 0.5, fl + 1, fl)
        elif nearest_mode == "round_prefer_ceil":
            pick = np.where(frac >= 0.5, fl + 1, fl)
        elif nearest_mode == "floor":
            pick = fl
        elif nearest_mode == "ceil":
            pick = np.ceil(coords)
        else:  # legacy (opset < 11): truncate when upsampling, ceil when downsampling
            pick = np.ceil(coords) if scale < 1 else np.trunc(coords)
        return np.clip(pick, 0, in_len - 1).astype(np.int64)[:, None], None
    x0 = np.floor(coords)
    r = coords - x0
    if mode == "linear":
        offsets = np.array([0, 1])
        w = np.stack([1 - r, r], axis=1)
    else:
        offsets = np.array([-1, 0, 1, 2])
        w = _cubic_weights(r, cubic_a)
    idx = x0.astype(np.int64)[:, None] + offsets
    if exclude_outside:
        w = np.where((idx < 0) | (idx >= in_len), 0.0, w)
        w = w / w.sum(axis=1, keepdims=True)
    return np.clip(idx, 0, in_len - 1), w


def _resize_axis(x, axis, idx, w, outside, extrapolation):
    if w is None:
        y = np.take(x, idx[:, 0], axis=axis)
    else:
        shape = [1] * x.ndim
        shape[axis] = -1
        y = None
        for t in range(idx.shape[1]):
            term = np.take(x, idx[:, t], axis=axis) * w[:, t].astype(x.dtype).reshape(shape)
            y = term if y is None else y + term
    if outside is not None and outside.any():
        index = [slice(None)] * x.ndim
        index[axis] = outside
        y[tuple(index)] = extrapolation
    return y


class _Spec:
    """Validated Resize/Upsample attributes."""

    def __init__(self, node, ctx, legacy):
        self.mode = attr(node, "mode", "nearest", str, choices=_MODES if not legacy else ("nearest", "linear", "bilinear"))
        if self.mode == "bilinear":  # Upsample-7 spelling
            self.mode = "linear"
        if legacy:
            self.coord = "asymmetric"
            self.nearest = "legacy"
            self.cubic_a, self.exclude, self.extrap, self.policy, self.axes = -0.75, 0, 0.0, "stretch", None
            return
        self.coord = attr(node, "coordinate_transformation_mode", "half_pixel", str, choices=_COORDS)
        self.nearest = attr(node, "nearest_mode", "round_prefer_floor", str, choices=_NEAREST[:4])
        self.cubic_a = attr(node, "cubic_coeff_a", -0.75, float)
        self.exclude = attr(node, "exclude_outside", 0, int, choices=(0, 1))
        self.extrap = attr(node, "extrapolation_value", 0.0, float)
        self.policy = attr(node, "keep_aspect_ratio_policy", "stretch", str,
                           choices=("stretch", "not_larger", "not_smaller"))
        self.axes = attr(node, "axes", None, list)
        if attr(node, "antialias", 0, int, choices=(0, 1)):
            raise OpError(node, "antialias=1 is not supported (expected 0)")


def _run(node, spec, x, roi, scales, sizes):
    rank = x.ndim
    axes = list(range(rank)) if spec.axes is None else norm_axes(node, spec.axes, rank)
    n = len(axes)
    in_shape = [x.shape[a] for a in axes]
    if sizes is not None and sizes.size:
        sizes = [int(s) for s in sizes.reshape(-1)]
        if len(sizes) != n:
            raise OpError(node, f"sizes must have {n} entries, got {sizes}")
        ratios = [s / i if i else 1.0 for s, i in zip(sizes, in_shape)]
        if spec.policy == "stretch":
            scale_v, out = ratios, sizes
        else:
            s = min(ratios) if spec.policy == "not_larger" else max(ratios)
            scale_v, out = [s] * n, [int(s * i + 0.5) for i in in_shape]
    elif scales is not None and scales.size:
        scale_v = [float(s) for s in scales.reshape(-1)]
        if len(scale_v) != n or any(s <= 0 for s in scale_v):
            raise OpError(node, f"scales must be {n} positive values, got {scale_v}")
        out = [int(np.floor(i * s)) for i, s in zip(in_shape, scale_v)]
    else:
        raise OpError(node, "one of 'scales' or 'sizes' must be given")
    if spec.coord == "tf_crop_and_resize":
        if roi is None or roi.size != 2 * n:
            raise OpError(node, f"tf_crop_and_resize needs roi with {2 * n} values, got {None if roi is None else roi.size}")
        roi_v = [float(v) for v in roi.reshape(-1)]
    else:
        roi_v = [0.0] * n + [1.0] * n
    is_float = x.dtype.kind == "f"
    y = x if is_float or spec.mode == "nearest" else x.astype(np.float64)
    for k, a in enumerate(axes):
        roi_k = (roi_v[k], roi_v[k + n])
        if out[k] == in_shape[k] and scale_v[k] == 1.0 and roi_k == (0.0, 1.0):
            continue  # identity along this axis
        coords = _source_coords(spec.coord, out[k], in_shape[k], scale_v[k], roi_k)
        idx, w = _taps(spec.mode, spec.nearest, coords, in_shape[k], scale_v[k], spec.cubic_a, spec.exclude)
        outside = None
        if spec.coord == "tf_crop_and_resize":
            outside = (coords < 0) | (coords > in_shape[k] - 1)
        y = _resize_axis(y, a, idx, w, outside, spec.extrap)
    if y.dtype != x.dtype:
        info = np.iinfo(x.dtype)
        y = np.clip(np.round(y), info.min, info.max).astype(x.dtype)
    return y if y is not x else x.copy()


@register("Resize", since=10, dtypes=ALL[:-2])
def resize(node, ctx):
    legacy = ctx.opset < 11
    spec = _Spec(node, ctx, legacy)

    def kernel(inputs):
        x = inputs[0]
        if legacy:  # opset 10: (X, scales)
            return [_run(node, spec, x, None, inputs[1], None)]
        return [_run(node, spec, x, opt(inputs, 1), opt(inputs, 2), opt(inputs, 3))]

    return kernel


@register("Upsample", since=7, dtypes=ALL[:-2])
def upsample(node, ctx):
    spec = _Spec(node, ctx, legacy=True)
    static = np.array(attr(node, "scales", kind="floats"), np.float32) if ctx.opset < 9 else None

    def kernel(inputs):
        scales = static if static is not None else inputs[1]
        return [_run(node, spec, inputs[0], None, scales, None)]

    return kernel
