"""Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp.

``axes`` is an attribute until it becomes an optional input (opset 13 for ReduceSum, 18 for
the rest); with the input form, empty axes means "all" unless noop_with_empty_axes=1 (identity).
Results keep the input dtype (numpy would promote small ints and give float64 means).
"""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, NUMERIC, attr, check_no_attr, int_list, norm_axes, opt
from .registry import register


def _sum(x, axes, keep):
    return np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _mean(x, axes, keep):
    return np.mean(x, axis=axes, keepdims=keep)


def _max(x, axes, keep):
    return np.max(x, axis=axes, keepdims=keep, initial=_lowest(x.dtype)) if x.size == 0 else \
        np.max(x, axis=axes, keepdims=keep)


def _min(x, axes, keep):
    return np.min(x, axis=axes, keepdims=keep, initial=_highest(x.dtype)) if x.size == 0 else \
        np.min(x, axis=axes, keepdims=keep)


def _lowest(dtype):
    if dtype == np.bool_:  # max over nothing: the identity of logical or
        return False
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _highest(dtype):
    if dtype == np.bool_:
        return True
    return np.inf if dtype.kind == "f" else np.iinfo(dtype).max


def _prod(x, axes, keep):
    return np.prod(x, axis=axes, keepdims=keep, dtype=x.dtype)


def _l1(x, axes, keep):
    return np.sum(np.abs(x), axis=axes, keepdims=keep, dtype=x.dtype)


def _sum_square(x, axes, keep):
    return np.sum(np.square(x), axis=axes, keepdims=keep, dtype=x.dtype)


def _l2(x, axes, keep):
    return np.sqrt(_sum_square(x, axes, keep))


def _log_sum(x, axes, keep):
    return np.log(np.sum(x, axis=axes, keepdims=keep, dtype=x.dtype))


def _log_sum_exp(x, axes, keep):
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axes, keepdims=keep))
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # all -inf rows: shift by 0 to avoid inf - inf
    s = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return s if keep else np.squeeze(s, axis=axes)


_REDUCE = {  # op -> (function, opset where axes became an input, dtypes)
    "ReduceSum": (_sum, 13, NUMERIC),
    "ReduceMean": (_mean, 18, NUMERIC),
    "ReduceMax": (_max, 18, NUMERIC + ("bool",)),
    "ReduceMin": (_min, 18, NUMERIC + ("bool",)),
    "ReduceProd": (_prod, 18, NUMERIC),
    "ReduceL1": (_l1, 18, NUMERIC),
    "ReduceL2": (_l2, 18, NUMERIC),
    "ReduceSumSquare": (_sum_square, 18, NUMERIC),
    "ReduceLogSum": (_log_sum, 18, FLOATS),
    "ReduceLogSumExp": (_log_sum_exp, 18, FLOATS),
}


def _reduce(func, axes_input_since):
    def factory(node, ctx):
        keep = bool(attr(node, "keepdims", 1, int, choices=(0, 1)))
        if ctx.opset < axes_input_since:
            static = attr(node, "axes", None, list)
            noop = 0
        else:
            check_no_attr(node, "axes")
            static = None
            noop = attr(node, "noop_with_empty_axes", 0, int, choices=(0, 1))

        def kernel(inputs):
            x = inputs[0]
            axes = static
            if axes is None and opt(inputs, 1) is not None:
                axes = int_list(node, inputs[1], "axes")
            if not axes:
                if noop:
                    return [x]
                axes = None
            else:
                axes = tuple(norm_axes(node, axes, x.ndim))
            r = func(x, axes, keep)
            if r.dtype != x.dtype:  # mean/sqrt of ints -> back to the input type
                r = r.astype(x.dtype)
            return [np.asarray(r)]

        return kernel

    return factory


for _op, (_func, _since_input, _dtypes) in _REDUCE.items():
    register(_op, since=1, dtypes=_dtypes)(_reduce(_func, _since_input))
