"""Keep-masks for every sparsity pattern, from any non-negative score.

Magnitude uses ``|w|``, Wanda ``|w| * ||x||``, SparseGPT ``w^2 / [H^-1]_ii^2``; all three go through
this one module so that a pattern means the same thing whatever the method.

The orientation convention, the exact counts and the tie-breaking are those of
:mod:`sparse_runtime.models.prune` (read its docstring): "4x1" = 4 outputs x 1 input, "1x4" = 1 output x 4
consecutive inputs, "2:4" = 2 kept of every 4 consecutive inputs. This module reuses its helpers
and adds two things:

* ``"channel"``: whole outputs (filters of a Conv, output features of a MatMul/Gemm). Exactly
  ``round(sparsity * n_out)`` outputs are zeroed, lowest mean score first, ties by lower index.
* ``per_output=True`` (Wanda's rule: scores are only compared within one output): unstructured
  and 1x4 zero exactly ``round(sparsity * units_per_row)`` units in *every* output row, 4x1 in every
  group of 4 outputs. 2:4 is per output by definition; channel compares outputs, so it ignores
  the flag.

Everything works on the canonical view ``[out, taps, in]`` (taps = kernel positions, 1 for a
matrix). Masks are boolean, ``True`` = kept.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..models.prune import (
    LAYOUTS,
    _block_mask,
    _check_sparsity,
    _default_layout,
    _from_canonical,
    _keep_largest,
    _n_m_mask,
    _to_canonical,
)
from ..models.prune import PATTERNS as _ELEMENT_PATTERNS

PATTERNS = _ELEMENT_PATTERNS + ("channel",)

__all__ = ["LAYOUTS", "PATTERNS", "canonical", "canonical_mask", "check_sparsity", "default_layout",
           "from_canonical", "mask_from_scores", "n_units", "unit_scores"]


def default_layout(weight: np.ndarray) -> str:
    return _default_layout(weight)


def canonical(a: np.ndarray, layout: str) -> np.ndarray:
    """``a`` viewed as ``[out, taps, in]``; columns of ``reshape(out, -1)`` are ordered (tap, in)."""
    return _to_canonical(a, layout)


def from_canonical(c: np.ndarray, layout: str, shape: tuple) -> np.ndarray:
    return _from_canonical(c, layout, tuple(shape))


def check_sparsity(sparsity: Optional[float], pattern: str) -> float:
    if pattern not in PATTERNS:
        raise ValueError(f"unknown sparsity pattern {pattern!r}; expected one of {PATTERNS}")
    return _check_sparsity(sparsity, "unstructured" if pattern == "channel" else pattern)


# ----------------------------------------------------------------------------------------- units
def _block_scores(c: np.ndarray, along_out: bool) -> np.ndarray:
    """Mean score of each 4-block: [ceil(out/4), taps, in] (4x1) or [out, taps, ceil(in/4)] (1x4).
    A partial last block is averaged over the elements it has, as in models.prune."""
    a = c.astype(np.float64)
    axis = 0 if along_out else 2
    n = a.shape[axis]
    nb = -(-n // 4)
    pad = [(0, 0)] * 3
    pad[axis] = (0, nb * 4 - n)
    s = np.pad(a, pad)
    cnt = np.pad(np.ones_like(a), pad)
    if along_out:
        return s.reshape(nb, 4, *a.shape[1:]).sum(1) / cnt.reshape(nb, 4, *a.shape[1:]).sum(1)
    return s.reshape(*a.shape[:2], nb, 4).sum(3) / cnt.reshape(*a.shape[:2], nb, 4).sum(3)


def unit_scores(c: np.ndarray, pattern: str) -> tuple:
    """(scores of the pruning units, elements per unit) for canonical scores ``c``: what one global
    threshold is drawn over. 2:4 has no free choice across groups and returns (None, None)."""
    if pattern == "unstructured":
        return c.astype(np.float64).ravel(), np.ones(c.size)
    if pattern in ("4x1", "1x4"):
        along_out = pattern == "4x1"
        s = _block_scores(c, along_out)
        axis = 0 if along_out else 2
        sizes = np.full(s.shape, 4.0)
        if c.shape[axis] % 4:  # the last block along the blocked axis is partial
            last = [slice(None)] * 3
            last[axis] = -1
            sizes[tuple(last)] = c.shape[axis] % 4
        return s.ravel(), sizes.ravel()
    if pattern == "channel":
        per = c.shape[1] * c.shape[2]
        return c.astype(np.float64).reshape(c.shape[0], -1).mean(1), np.full(c.shape[0], float(per))
    return None, None


def n_units(c_shape: tuple, pattern: str) -> int:
    out, taps, inn = c_shape
    if pattern == "4x1":
        return -(-out // 4) * taps * inn
    if pattern == "1x4":
        return out * taps * -(-inn // 4)
    if pattern == "channel":
        return out
    return out * taps * inn


# ----------------------------------------------------------------------------------------- masks
def _keep_largest_rows(scores: np.ndarray, n_zero: int) -> np.ndarray:
    """Per row of a 2-D score array, drop exactly ``n_zero`` smallest; ties: lower index first."""
    keep = np.ones(scores.shape, dtype=bool)
    if n_zero <= 0:
        return keep
    order = np.argsort(scores, axis=1, kind="stable")  # stable: equal scores keep index order
    np.put_along_axis(keep, order[:, :n_zero], False, axis=1)
    return keep


def canonical_mask(c: np.ndarray, sparsity: Optional[float], pattern: str,
                   per_output: bool = False) -> np.ndarray:
    """Keep-mask of canonical scores ``c`` ([out, taps, in], non-negative)."""
    s = check_sparsity(sparsity, pattern)
    out, taps, inn = c.shape
    if pattern == "2:4":
        return _n_m_mask(c)
    if pattern == "channel":
        keep = _keep_largest(c.astype(np.float64).reshape(out, -1).mean(1), round(s * out))
        return np.broadcast_to(keep[:, None, None], c.shape).copy()
    if not per_output:
        if pattern == "unstructured":
            return _keep_largest(c.astype(np.float64).ravel(), round(s * c.size)).reshape(c.shape)
        return _block_mask(c, s, along_out=(pattern == "4x1"))
    if pattern == "unstructured":
        rows = c.astype(np.float64).reshape(out, -1)
        return _keep_largest_rows(rows, round(s * rows.shape[1])).reshape(c.shape)
    if pattern == "1x4":
        b = _block_scores(c, along_out=False)  # [out, taps, nb]
        keep = _keep_largest_rows(b.reshape(out, -1), round(s * taps * b.shape[2])).reshape(b.shape)
        return np.repeat(keep, 4, axis=2)[:, :, :inn]
    b = _block_scores(c, along_out=True)  # 4x1: [nb, taps, in], compared within each group of 4 outputs
    keep = _keep_largest_rows(b.reshape(b.shape[0], -1), round(s * taps * inn)).reshape(b.shape)
    return np.repeat(keep, 4, axis=0)[:out]


def mask_from_scores(scores: np.ndarray, sparsity: Optional[float], pattern: str = "unstructured",
                     layout: Optional[str] = None, per_output: bool = False) -> np.ndarray:
    """Keep-mask of ``scores``' shape (a weight-shaped, non-negative score array).

    ``layout``: ``"KN"`` (MatMul [K, N], default for 2-D), ``"NK"`` (Gemm transB=1, torch Linear),
    ``"OIHW"`` (Conv, default for >= 3-D). With ``scores = |w|`` and ``per_output=False`` the
    element patterns give exactly :func:`sparse_runtime.models.prune.magnitude_mask`.
    """
    sc = np.asarray(scores)
    if sc.size and not np.all(np.isfinite(sc)):
        raise ValueError("mask_from_scores: scores contain NaN or inf")
    if sc.size and sc.min() < 0:
        raise ValueError("mask_from_scores: scores must be non-negative")
    layout = layout or default_layout(sc)
    c = canonical(sc, layout)
    return from_canonical(canonical_mask(c, sparsity, pattern, per_output), layout, sc.shape)
