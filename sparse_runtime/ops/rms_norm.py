"""RMSNormalization (opset 23): x / sqrt(mean(x², axes [axis, rank)) + epsilon) * scale.

Statistics are computed in ``stash_type`` (float32 by default) so float16 inputs do not lose
precision in the mean of squares.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ._util import FLOATS, attr, norm_axis
from .registry import register


@register("RMSNormalization", since=23, dtypes=FLOATS)
def rms_norm(node, ctx):
    axis = attr(node, "axis", -1, int)
    eps = attr(node, "epsilon", 1e-5, float)
    stash = np.dtype(helper.tensor_dtype_to_np_dtype(attr(node, "stash_type", TensorProto.FLOAT, int)))

    def kernel(inputs):
        x, scale = inputs[0], inputs[1]
        ax = norm_axis(node, axis, x.ndim)
        xs = x.astype(stash, copy=False)
        ms = np.mean(np.square(xs), axis=tuple(range(ax, x.ndim)), keepdims=True)
        y = (xs / np.sqrt(ms + eps)).astype(x.dtype) * scale
        return [y.astype(x.dtype, copy=False)]

    return kernel
