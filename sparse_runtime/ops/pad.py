"""Pad with mode constant / reflect / edge / wrap (opset 19).

Before opset 11 ``pads`` and ``value`` are attributes; from 11 they are inputs (plus optional
``axes`` from 18). Negative pads crop, so we slice first and np.pad the non-negative rest.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL, attr, int_list, norm_axes, opt
from .registry import register

_NP_MODE = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}


@register("Pad", since=1, dtypes=ALL)
def pad(node, ctx):
    modes = ("constant", "reflect", "edge", "wrap") if ctx.opset >= 19 else ("constant", "reflect", "edge")
    mode = attr(node, "mode", "constant", str, choices=modes)
    if ctx.opset < 11:
        static_pads = attr(node, "pads" if ctx.opset >= 2 else "paddings", kind=list)
        static_value = attr(node, "value", 0.0, float)
    else:
        static_pads, static_value = None, None

    def kernel(inputs):
        x = inputs[0]
        if static_pads is not None:
            pads, value, axes = static_pads, static_value, None
        else:
            pads = int_list(node, inputs[1], "pads")
            cv = opt(inputs, 2)
            value = cv.reshape(-1)[0].item() if cv is not None and cv.size else 0
            axes = int_list(node, opt(inputs, 3), "axes") if opt(inputs, 3) is not None else None
        axes = list(range(x.ndim)) if axes is None else norm_axes(node, axes, x.ndim)
        if len(pads) != 2 * len(axes):
            raise OpError(node, f"pads must have 2*{len(axes)} entries, got {len(pads)}")
        before = [0] * x.ndim
        after = [0] * x.ndim
        for i, a in enumerate(axes):
            before[a], after[a] = pads[i], pads[i + len(axes)]
        if any(p < 0 for p in before + after):  # crop first
            x = x[tuple(slice(-b if b < 0 else 0, x.shape[i] + a if a < 0 else None)
                        for i, (b, a) in enumerate(zip(before, after)))]
        widths = [(max(b, 0), max(a, 0)) for b, a in zip(before, after)]
        if not any(b or a for b, a in widths):
            return [x]
        if mode == "constant":
            if x.dtype.kind in "iub":
                value = x.dtype.type(value)
            return [np.pad(x, widths, mode="constant", constant_values=value)]
        for i, (b, a) in enumerate(widths):
            if (b or a) and x.shape[i] == 0:
                raise OpError(node, f"mode '{mode}' cannot pad empty axis {i}")
        return [np.pad(x, widths, mode=_NP_MODE[mode])]

    return kernel
