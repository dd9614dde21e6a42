"""Elementwise activations parameterised by float attributes (alpha/beta/gamma):
LeakyRelu Elu Selu Celu ThresholdedRelu HardSigmoid HardSwish.

Attributes are Python floats, i.e. weak scalars for numpy, so float32 stays float32.
"""
from __future__ import annotations

import numpy as np

from ._util import FLOATS, as_array, attr
from .registry import register


def _act(params, make):
    """params: attr name -> default; make(**params) -> fn(x)."""

    def factory(node, ctx):
        values = {k: attr(node, k, d, float) for k, d in params.items()}
        fn = make(**values)
        return lambda inputs: [as_array(fn(inputs[0]))]

    return factory


def _leaky(alpha):
    if 0.0 <= alpha <= 1.0:  # max(x, a*x) == leaky relu for 0 <= a <= 1 and needs no mask
        return lambda x: np.maximum(x, x * alpha)
    return lambda x: np.where(x >= 0, x, x * alpha)


def _elu(alpha):
    return lambda x: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _selu(alpha, gamma):
    return lambda x: gamma * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _celu(alpha):
    return lambda x: np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))


def _thresholded(alpha):
    return lambda x: np.where(x > alpha, x, 0).astype(x.dtype, copy=False)


def _hard_sigmoid(alpha, beta):
    return lambda x: np.clip(x * alpha + beta, 0, 1)


def _hard_swish():
    return lambda x: x * np.clip(x * (1 / 6) + 0.5, 0, 1)


register("LeakyRelu", since=6, dtypes=FLOATS)(_act({"alpha": 0.01}, _leaky))
register("Elu", since=6, dtypes=FLOATS)(_act({"alpha": 1.0}, _elu))
register("Selu", since=6, dtypes=FLOATS)(_act(
    {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}, _selu))
register("Celu", since=12, dtypes=FLOATS)(_act({"alpha": 1.0}, _celu))
register("ThresholdedRelu", since=10, dtypes=FLOATS)(_act({"alpha": 1.0}, _thresholded))
register("HardSigmoid", since=6, dtypes=FLOATS)(_act({"alpha": 0.2, "beta": 0.5}, _hard_sigmoid))
register("HardSwish", since=14, dtypes=FLOATS)(_act({}, _hard_swish))
