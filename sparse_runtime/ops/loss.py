"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+), vectorised.

Both pick ``-input[n, target[n, d...], d...]``, weight it by ``weight[target]`` (1 when no weight
is given), zero the entries whose target equals ``ignore_index``, then reduce. ``mean`` divides by
the sum of the weights actually used (ONNX's definition), not by the element count.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import FLOATS, attr, node_has_output, opt
from .registry import register
from .softmax import _log_softmax


def _nll(node, logp, target, weight, reduction, ignore_index):
    if logp.ndim < 2:
        raise OpError(node, f"input must have shape (N, C, ...), got {logp.shape}")
    if target.shape != logp.shape[:1] + logp.shape[2:]:
        raise OpError(node, f"target shape {target.shape} must be input shape {logp.shape} without dim 1")
    ignored = target == ignore_index if ignore_index is not None else np.zeros(target.shape, bool)
    safe = np.where(ignored, 0, target).astype(np.intp)  # any valid class: the entry is zeroed anyway
    picked = np.take_along_axis(logp, np.expand_dims(safe, 1), axis=1)[:, 0]
    w = np.ones(target.shape, logp.dtype) if weight is None else weight[safe].astype(logp.dtype)
    w = np.where(ignored, logp.dtype.type(0), w)
    loss = -picked * w
    if reduction == "none":
        return loss.astype(logp.dtype)
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=logp.dtype)
    if weight is None and ignore_index is None:
        return np.asarray(loss.mean(), dtype=logp.dtype)
    return np.asarray(loss.sum() / w.sum(), dtype=logp.dtype)


def _attrs(node):
    reduction = attr(node, "reduction", "mean", str, choices=("none", "sum", "mean"))
    ignore_index = attr(node, "ignore_index", None, int)
    return reduction, ignore_index


@register("NegativeLogLikelihoodLoss", since=12, dtypes=FLOATS)
def nll_loss(node, ctx):
    reduction, ignore_index = _attrs(node)

    def kernel(inputs):
        x, target, weight = inputs[0], inputs[1], opt(inputs, 2)
        return [_nll(node, x, target, weight, reduction, ignore_index)]

    return kernel


@register("SoftmaxCrossEntropyLoss", since=12, dtypes=FLOATS)
def softmax_cross_entropy_loss(node, ctx):
    reduction, ignore_index = _attrs(node)
    want_log_prob = node_has_output(node, 1)

    def kernel(inputs):
        x, target, weight = inputs[0], inputs[1], opt(inputs, 2)
        logp = _log_softmax(x, 1)
        loss = _nll(node, logp, target, weight, reduction, ignore_index)
        return [loss, logp] if want_log_prob else [loss]

    return kernel
