"""Dropout at inference: identity, with an all-true mask when the mask output is requested.

Opset < 12: ``ratio`` attribute (``is_test`` too, before 7, ignored). Opset 12+: ``ratio`` and
``training_mode`` inputs; training mode with a nonzero ratio is rejected (inference runtime).
Mask type: bool from opset 10, the data type before.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr, node_has_output, opt
from .registry import register


@register("Dropout", since=1, dtypes=FLOATS)
def dropout(node, ctx):
    attr(node, "ratio", 0.5, float)
    attr(node, "is_test", 0, int)  # opset < 7; like ORT we always run in inference mode
    want_mask = node_has_output(node, 1)
    legacy_mask = ctx.opset < 10

    def kernel(inputs):
        x = inputs[0]
        training = opt(inputs, 2)
        if training is not None and bool(np.asarray(training).reshape(-1)[0]):
            ratio = opt(inputs, 1)
            r = 0.5 if ratio is None else float(np.asarray(ratio).reshape(-1)[0])
            if r != 0.0:
                raise OpError(node, f"training_mode=True with ratio {r} is not supported (inference only)")
        if not want_mask:
            return [x]
        mask = np.ones(x.shape, dtype=x.dtype if legacy_mask else bool)
        return [x, mask]

    return kernel
