"""Pruning toolkit: make sparse models and measure what they cost and save.

* :func:`prune_model` - one-shot post-training pruning of an ONNX model: magnitude, Wanda or
  SparseGPT, patterns unstructured | 4x1 | 1x4 | 2:4 | channel, scope per layer or global.
* :class:`GradualPruner`, :func:`export_onnx` - gradual pruning while training with PyTorch, with
  TFMOT's :class:`ConstantSparsity` / :class:`PolynomialDecay` schedules (torch imported lazily).
* :func:`mask_from_scores` - the pattern masks every method shares.
* ``sparse-prune`` - the command line (:mod:`sparse_runtime.prune.cli`).

See docs/pruning.md.
"""
from __future__ import annotations

from .calibration import CalibrationError
from .methods import METHODS
from .oneshot import SCOPES, LayerReport, PruneResult, prune_model
from .patterns import PATTERNS, mask_from_scores
from .schedules import ConstantSparsity, PolynomialDecay, PruningSchedule
from .storage import file_sizes, to_sparse_storage

_TORCH_NAMES = ("GradualPruner", "export_onnx", "select_modules")


def __getattr__(name):
    if name in _TORCH_NAMES:  # importing them needs no torch; using them does
        from . import torch_gradual

        return getattr(torch_gradual, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["METHODS", "PATTERNS", "SCOPES", "CalibrationError", "ConstantSparsity", "GradualPruner",
           "LayerReport", "PolynomialDecay", "PruneResult", "PruningSchedule", "export_onnx", "file_sizes",
           "mask_from_scores", "prune_model", "select_modules", "to_sparse_storage"]
