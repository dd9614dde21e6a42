"""ReverseSequence (opset 10): reverse the first ``sequence_lens[b]`` steps of each batch entry."""
from __future__ import annotations

from ._util import ALL, attr
from .registry import register


@register("ReverseSequence", since=10, dtypes=ALL)
def reverse_sequence(node, ctx):
    batch_axis = attr(node, "batch_axis", 1, int, choices=(0, 1))
    time_axis = attr(node, "time_axis", 0, int, choices=(0, 1))

    def kernel(inputs):
        x, lens = inputs
        out = x.copy()
        for b, n in enumerate(lens.tolist()):
            idx = [slice(None)] * x.ndim
            idx[batch_axis] = b
            idx[time_axis] = slice(0, int(n))
            src = [slice(None)] * x.ndim
            src[batch_axis] = b
            src[time_axis] = slice(int(n) - 1, None, -1) if n > 0 else slice(0, 0)
            out[tuple(idx)] = x[tuple(src)]
        return [out]

    return kernel
