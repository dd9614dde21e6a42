"""Attribute-free elementwise math: one numpy function applied to one tensor, dtype kept.

Each entry: op_type -> (function, since opset, dtypes).
"""
from __future__ import annotations

import numpy as np

from . import _special
from ._util import FLOATS, NUMERIC, SIGNED, as_array
from .registry import register


def _softplus(x):
    return np.logaddexp(0, x)  # log(1 + e^x) without overflow


def _mish(x):
    return x * np.tanh(np.logaddexp(0, x))


def _softsign(x):
    return x / (1 + np.abs(x))


def _reciprocal(x):
    return np.reciprocal(x) if x.dtype.kind == "f" else (1 // x)


_UNARY = {
    "Abs": (np.abs, 1, NUMERIC),
    "Neg": (np.negative, 1, FLOATS + SIGNED),
    "Sqrt": (np.sqrt, 1, FLOATS),
    "Reciprocal": (_reciprocal, 1, FLOATS),
    "Exp": (np.exp, 1, FLOATS),
    "Log": (np.log, 1, FLOATS),
    "Erf": (_special.erf, 9, FLOATS),
    "Tanh": (np.tanh, 1, FLOATS),
    "Sigmoid": (_special.sigmoid, 1, FLOATS),
    "Floor": (np.floor, 1, FLOATS),
    "Ceil": (np.ceil, 1, FLOATS),
    "Round": (np.round, 11, FLOATS),  # np.round is round-half-to-even, as ONNX requires
    "Sign": (np.sign, 9, NUMERIC),
    "Softplus": (_softplus, 1, FLOATS),
    "Softsign": (_softsign, 1, FLOATS),
    "Mish": (_mish, 18, FLOATS),
    "Sin": (np.sin, 7, FLOATS),
    "Cos": (np.cos, 7, FLOATS),
    "Tan": (np.tan, 7, FLOATS),
    "Asin": (np.arcsin, 7, FLOATS),
    "Acos": (np.arccos, 7, FLOATS),
    "Atan": (np.arctan, 7, FLOATS),
    "Sinh": (np.sinh, 9, FLOATS),
    "Cosh": (np.cosh, 9, FLOATS),
    "Asinh": (np.arcsinh, 9, FLOATS),
    "Acosh": (np.arccosh, 9, FLOATS),
    "Atanh": (np.arctanh, 9, FLOATS),
}


def _unary(func):
    def factory(node, ctx):
        def kernel(inputs):
            x = inputs[0]
            r = func(x)
            if r.dtype != x.dtype:  # e.g. float16 through a float32-only scipy loop
                r = r.astype(x.dtype)
            return [as_array(r)]

        return kernel

    return factory


for _op, (_func, _since, _dtypes) in _UNARY.items():
    register(_op, since=_since, dtypes=_dtypes)(_unary(_func))
