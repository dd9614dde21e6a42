"""One-shot pruning of one weight: magnitude and Wanda here, SparseGPT in :mod:`.sparsegpt`.

Every method has the signature ``method(w, sparsity, pattern, layout, stats, **options) -> w'``
(same shape and dtype; zeros where pruned). ``stats`` is the layer's
:class:`~.calibration.LayerStats` (None for magnitude).
"""
from __future__ import annotations

import numpy as np

from .patterns import canonical, canonical_mask, check_sparsity, from_canonical

METHODS = ("magnitude", "wanda", "sparsegpt")
NEEDS_CALIBRATION = ("wanda", "sparsegpt")


def _apply(w, keep):
    return np.where(keep, w, np.zeros((), w.dtype))


def magnitude(w: np.ndarray, sparsity, pattern: str, layout: str, stats=None, **_) -> np.ndarray:
    """Smallest ``|w|`` go, within the layer (channels: smallest mean ``|w|``, i.e. L1 norm)."""
    c = canonical(np.abs(w), layout)
    return _apply(w, from_canonical(canonical_mask(c, sparsity, pattern), layout, w.shape))


def wanda(w: np.ndarray, sparsity, pattern: str, layout: str, stats=None, **_) -> np.ndarray:
    """Wanda (Sun et al. 2023): score ``|W_ij| * ||X_j||``, compared within each output, so an
    input feature with large activations protects its weights. No weight update."""
    if stats is None:
        raise ValueError("wanda needs calibration statistics")
    check_sparsity(sparsity, pattern)
    c = canonical(np.abs(w).astype(np.float64), layout)
    score = c * stats.norms.reshape(c.shape[1], c.shape[2])[None]
    keep = canonical_mask(score, sparsity, pattern, per_output=True)
    return _apply(w, from_canonical(keep, layout, w.shape))


def get(method: str):
    if method == "magnitude":
        return magnitude
    if method == "wanda":
        return wanda
    if method == "sparsegpt":
        from .sparsegpt import sparsegpt

        return sparsegpt
    raise ValueError(f"unknown pruning method {method!r}; expected one of {METHODS}")
