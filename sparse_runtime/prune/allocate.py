"""Global scope: one magnitude threshold across all layers decides how sparse each layer gets.

The threshold is drawn over the pattern's pruning units (elements, 4-blocks or channels) of every
layer together, so layers whose weights are small overall lose more. The result is a sparsity per
layer; each method then prunes each layer to its share. For magnitude that is exactly a global
threshold; Wanda and SparseGPT scores are not comparable across layers (they depend on each
layer's input scale), so they reuse the magnitude allocation, as TF's and NNI's global modes do.
"""
from __future__ import annotations

import numpy as np

from .patterns import check_sparsity, n_units, unit_scores


def allocate_global(scores: list, sparsity: float, pattern: str) -> list:
    """Per-layer sparsity for canonical score arrays ``scores`` ([out, taps, in], e.g. ``|w|``).

    Exactly the lowest-scoring units are chosen until ``round(sparsity * total elements)`` elements
    are covered (a block or channel may overshoot by less than one unit); ties go to the earlier
    layer, then the lower unit index.
    """
    s = check_sparsity(sparsity, pattern)
    if pattern == "2:4" or not scores:
        return [s] * len(scores)
    vals, sizes, owner = [], [], []
    for i, c in enumerate(scores):
        v, z = unit_scores(c, pattern)
        vals.append(v)
        sizes.append(z)
        owner.append(np.full(v.size, i))
    vals, sizes, owner = np.concatenate(vals), np.concatenate(sizes), np.concatenate(owner)
    target = round(s * sizes.sum())
    if target <= 0:
        return [0.0] * len(scores)
    order = np.argsort(vals, kind="stable")
    cum = np.cumsum(sizes[order])
    k = min(int(np.searchsorted(cum, target - 0.5)) + 1, order.size)  # fewest units covering target
    counts = np.bincount(owner[order[:k]], minlength=len(scores))
    return [float(counts[i]) / n_units(c.shape, pattern) for i, c in enumerate(scores)]
