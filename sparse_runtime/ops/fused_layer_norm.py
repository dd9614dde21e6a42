"""FusedLayerNorm (domain sparse_runtime): layer normalisation over the last axis, produced by
passes/fuse_layernorm.py from the decomposed pattern exporters write. Scale and bias are constant
vectors held in the node (or absent)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from .registry import register


@register("FusedLayerNorm", domain="sparse_runtime", native=True, dtypes=("float32",))
def fused_layer_norm(node, ctx):
    eps = float(node.attrs["epsilon"])
    scale, bias = node.attrs.get("scale"), node.attrs.get("bias")

    native = kernels.layernorm_unchecked

    def kernel(inputs):
        x = inputs[0]
        try:  # the usual case in one call; the checks below word what it declines
            return [native(x, scale, bias, eps)]
        except (TypeError, ValueError):
            pass
        if x.dtype != np.float32 or x.ndim == 0:
            raise OpError(node, f"input '{node.inputs[0]}' must be a float32 tensor, got {x.dtype} {x.shape}")
        if scale is not None and scale.size != x.shape[-1]:
            raise OpError(node, f"scale has {scale.size} values, input rows have {x.shape[-1]}")
        return [kernels.layernorm(x, scale, bias, eps)]

    return kernel
