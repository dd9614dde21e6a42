"""Magnitude pruning masks with exact, documented patterns.

Orientation convention (read this before writing a kernel against these masks)
-------------------------------------------------------------------------------
A weight maps *input* elements (the reduction axis K) to *output* elements (N, or output
channels). Block names are always written **outputs x inputs**:

* ``"4x1"`` = a block of **4 consecutive outputs x 1 input**. For a MatMul weight ``W[K, N]``
  (layout ``"KN"``) a block is ``W[k, 4j:4j+4]`` (one row ``k``, four columns ``n``). For a Conv
  weight ``[Co, Ci, kh, kw]`` (layout ``"OIHW"``) a block is ``W[4j:4j+4, ci, y, x]``
  (four output channels at one input channel and one kernel tap).
* ``"1x4"`` = **1 output x 4 consecutive inputs**. ``W[4i:4i+4, n]`` for ``"KN"``; for
  ``"OIHW"`` it is ``W[co, 4i:4i+4, y, x]``: four consecutive *input channels* at the same kernel
  tap, i.e. four consecutive K elements when K is ordered (kh, kw, ci) as in a channels-last
  im2col. (For 1x1 convolutions that is also the OIHW flattening order.)
* ``"2:4"`` = N:M semi-structured sparsity: in every group of **4 consecutive inputs** of one
  output (the same groups as ``"1x4"``) the **2 largest** magnitudes are kept. Sparsity is 50 %
  by definition.
* ``"unstructured"`` = element-wise.

Layouts: ``"KN"`` (MatMul ``B`` / torch-exported Linear, the default for 2-D), ``"NK"`` (Gemm
with ``transB=1`` / torch ``Linear.weight``), ``"OIHW"`` (Conv, the default for >= 3-D; any
number of spatial dims).

Exactness
---------
* unstructured: exactly ``round(sparsity * weight.size)`` zeros (Python ``round``). The smallest
  ``|w|`` are removed; ties are broken deterministically, the lower flat (C-order) index of the
  original array is pruned first.
* ``4x1`` / ``1x4``: blocks are scored by the mean ``|w|`` of their elements; exactly
  ``round(sparsity * n_blocks)`` blocks are zeroed, lowest score first, ties by lower block index
  (blocks ordered C-order over the (out-block, tap, in) grid). The element sparsity is exact when the
  blocked dimension is a multiple of 4; otherwise the last, partial block along that dimension is
  a block of fewer elements.
* ``2:4``: exactly 2 kept per full group; ties keep the lower index. A trailing partial group
  (K not a multiple of 4) keeps its ``min(2, len)`` largest.

Masks are boolean arrays of the weight's shape, ``True`` = kept.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

PATTERNS = ("unstructured", "4x1", "1x4", "2:4")
LAYOUTS = ("KN", "NK", "OIHW")


def _default_layout(weight: np.ndarray) -> str:
    if weight.ndim == 2:
        return "KN"
    if weight.ndim >= 3:
        return "OIHW"
    raise ValueError(f"magnitude_mask: weight must be 2-D (MatMul/Gemm) or >= 3-D (Conv), got shape {weight.shape}")


def _to_canonical(a: np.ndarray, layout: str) -> np.ndarray:
    """View ``a`` as [out, taps, in] (taps = product of spatial dims; 1 for matrices)."""
    if layout == "KN":
        if a.ndim != 2:
            raise ValueError(f"layout 'KN' needs a 2-D weight, got shape {a.shape}")
        return a.T[:, None, :]
    if layout == "NK":
        if a.ndim != 2:
            raise ValueError(f"layout 'NK' needs a 2-D weight, got shape {a.shape}")
        return a[:, None, :]
    if layout == "OIHW":
        if a.ndim < 3:
            raise ValueError(f"layout 'OIHW' needs a >= 3-D weight, got shape {a.shape}")
        co, ci = a.shape[:2]
        moved = np.moveaxis(a, 1, -1)  # [Co, *spatial, Ci]
        return moved.reshape(co, -1, ci)
    raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")


def _from_canonical(c: np.ndarray, layout: str, shape: tuple) -> np.ndarray:
    if layout == "KN":
        return np.ascontiguousarray(c[:, 0, :].T)
    if layout == "NK":
        return np.ascontiguousarray(c[:, 0, :])
    co, ci = shape[:2]
    moved = c.reshape((co,) + tuple(shape[2:]) + (ci,))
    return np.ascontiguousarray(np.moveaxis(moved, -1, 1))


def _keep_largest(scores: np.ndarray, n_zero: int) -> np.ndarray:
    """Boolean keep-mask over a flat score array with exactly ``n_zero`` False entries.

    The smallest scores are dropped; among equal scores the lower index is dropped first.
    O(n) via partition instead of a full sort (BERT-base has 85 M weights to prune).
    """
    n = scores.size
    keep = np.ones(n, dtype=bool)
    if n_zero <= 0:
        return keep
    if n_zero >= n:
        keep[:] = False
        return keep
    t = np.partition(scores, n_zero - 1)[n_zero - 1]  # the n_zero-th smallest score
    below = scores < t
    need = n_zero - int(below.sum())
    keep[below] = False
    keep[np.flatnonzero(scores == t)[:need]] = False
    return keep


def _check_sparsity(sparsity: Optional[float], pattern: str) -> float:
    if pattern == "2:4":
        if sparsity is not None and abs(float(sparsity) - 0.5) > 1e-9:
            raise ValueError(f"pattern '2:4' is 50 % sparse by definition; got sparsity={sparsity} (pass 0.5 or None)")
        return 0.5
    if sparsity is None:
        raise ValueError(f"pattern {pattern!r} needs a sparsity in [0, 1]")
    s = float(sparsity)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    return s


def _block_mask(c: np.ndarray, sparsity: float, along_out: bool) -> np.ndarray:
    """4-element blocks along the out axis (4x1) or the in axis (1x4) of canonical [out, taps, in]."""
    a = np.abs(c.astype(np.float64))
    out, taps, inn = a.shape
    axis_len = out if along_out else inn
    nb = -(-axis_len // 4)
    pad = nb * 4 - axis_len
    cnt = np.ones_like(a)
    if along_out:
        a = np.pad(a, ((0, pad), (0, 0), (0, 0)))
        cnt = np.pad(cnt, ((0, pad), (0, 0), (0, 0)))
        score = a.reshape(nb, 4, taps, inn).sum(1) / cnt.reshape(nb, 4, taps, inn).sum(1)  # [nb, taps, in]
    else:
        a = np.pad(a, ((0, 0), (0, 0), (0, pad)))
        cnt = np.pad(cnt, ((0, 0), (0, 0), (0, pad)))
        score = a.reshape(out, taps, nb, 4).sum(3) / cnt.reshape(out, taps, nb, 4).sum(3)  # [out, taps, nb]
    keep_blocks = _keep_largest(score.ravel(), int(round(sparsity * score.size))).reshape(score.shape)
    if along_out:
        m = np.repeat(keep_blocks, 4, axis=0)[:out]
    else:
        m = np.repeat(keep_blocks, 4, axis=2)[:, :, :inn]
    return m


def _n_m_mask(c: np.ndarray, n_keep: int = 2, m: int = 4) -> np.ndarray:
    out, taps, inn = c.shape
    ng = -(-inn // m)
    pad = ng * m - inn
    a = np.abs(c.astype(np.float64))
    a = np.pad(a, ((0, 0), (0, 0), (0, pad)), constant_values=-np.inf)  # padding is never kept
    g = a.reshape(out, taps, ng, m)
    order = np.argsort(-g, axis=-1, kind="stable")  # largest first, ties: lower index first
    keep = np.zeros(g.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n_keep], True, axis=-1)
    keep &= np.isfinite(g)
    return keep.reshape(out, taps, ng * m)[:, :, :inn]


def magnitude_mask(weight: np.ndarray, sparsity: Optional[float], pattern: str = "unstructured",
                   layout: Optional[str] = None) -> np.ndarray:
    """Boolean keep-mask (``True`` = kept) of ``weight``'s shape; see the module docstring.

    ``pattern``: ``"unstructured"``, ``"4x1"`` (4 outputs x 1 input), ``"1x4"`` (1 output x 4
    consecutive inputs) or ``"2:4"`` (2 kept of every 4 consecutive inputs; sparsity must be 0.5
    or None). ``layout``: ``"KN"`` (MatMul weight [K, N], default for 2-D), ``"NK"`` (Gemm
    ``transB=1``), ``"OIHW"`` (Conv, default for >= 3-D).
    """
    w = np.asarray(weight)
    if pattern not in PATTERNS:
        raise ValueError(f"unknown sparsity pattern {pattern!r}; expected one of {PATTERNS}")
    s = _check_sparsity(sparsity, pattern)
    if w.size and not np.all(np.isfinite(w)):
        raise ValueError("magnitude_mask: weight contains NaN or inf")
    layout = layout or _default_layout(w)
    if pattern == "unstructured":
        _to_canonical(w, layout)  # validates layout vs. rank
        return _keep_largest(np.abs(w).ravel(), int(round(s * w.size))).reshape(w.shape)
    c = _to_canonical(w, layout)
    if pattern == "4x1":
        m = _block_mask(c, s, along_out=True)
    elif pattern == "1x4":
        m = _block_mask(c, s, along_out=False)
    else:
        m = _n_m_mask(c)
    return _from_canonical(m, layout, w.shape)


def prune(weight: np.ndarray, sparsity: Optional[float], pattern: str = "unstructured",
          layout: Optional[str] = None) -> np.ndarray:
    """``weight`` with the pruned entries set to zero (same dtype); see :func:`magnitude_mask`."""
    w = np.asarray(weight)
    return np.where(magnitude_mask(w, sparsity, pattern, layout), w, np.zeros((), w.dtype))


def sparsity_of(weight: np.ndarray) -> float:
    """Fraction of exact zeros."""
    w = np.asarray(weight)
    return float(np.count_nonzero(w == 0)) / w.size if w.size else 0.0
