"""prune.magnitude_mask: every pattern obeys its definition exactly (structure, count, magnitude
order, tie-breaking), in each layout."""
from __future__ import annotations

import numpy as np
import pytest

from sparse_runtime.models.prune import magnitude_mask, prune, sparsity_of
from sparse_runtime.testing.layouts import canon


def rnd(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CASES = [("KN", (64, 96)), ("NK", (96, 64)), ("OIHW", (32, 16, 3, 3)), ("OIHW", (64, 32, 1, 1))]


# ---- unstructured ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 96), (7, 13), (32, 16, 3, 3), (1, 1)])
@pytest.mark.parametrize("s", [0.0, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0])
def test_unstructured_exact_count_and_magnitude_order(shape, s):
    w = rnd(shape)
    m = magnitude_mask(w, s, "unstructured")
    assert m.shape == w.shape and m.dtype == bool
    assert int((~m).sum()) == round(s * w.size)
    if m.any() and (~m).any():
        assert np.abs(w[m]).min() >= np.abs(w[~m]).max()


def test_unstructured_ties_are_deterministic_lower_index_pruned_first():
    w = np.array([[1, 2, 1, 2], [1, 3, 1, 0]], np.float32)  # |w|: 0,1,1,1,1,2,2,3 sorted
    m = magnitude_mask(w, 3 / 8, "unstructured")  # 3 zeros: the 0 and the first two 1s
    expected = np.array([[0, 1, 0, 1], [1, 1, 1, 0]], bool)
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_array_equal(magnitude_mask(w, 3 / 8, "unstructured"), m)  # stable
    # many ties: integer weights
    w = np.random.default_rng(3).integers(-3, 4, (50, 40)).astype(np.float32)
    m = magnitude_mask(w, 0.6, "unstructured")
    assert int((~m).sum()) == round(0.6 * w.size)
    a = np.abs(w).ravel()
    t = a[~m.ravel()].max()
    eq = np.flatnonzero(a == t)
    pruned_eq = eq[~m.ravel()[eq]]
    kept_eq = eq[m.ravel()[eq]]
    if len(pruned_eq) and len(kept_eq):
        assert pruned_eq.max() < kept_eq.min()


# ---- 4x1: 4 outputs x 1 input --------------------------------------------------------------------
@pytest.mark.parametrize("layout,shape", CASES)
@pytest.mark.parametrize("s", [0.0, 0.5, 0.8, 0.9, 1.0])
def test_4x1_blocks_span_4_outputs(layout, shape, s):
    w = rnd(shape)
    m = magnitude_mask(w, s, "4x1", layout=layout)
    c = canon(m, layout)  # [out, taps, in]
    blocks = c.reshape(c.shape[0] // 4, 4, c.shape[1], c.shape[2])
    assert np.all(blocks.all(axis=1) | ~blocks.any(axis=1)), "a 4x1 block is partly kept"
    n_blocks = blocks.shape[0] * blocks.shape[2] * blocks.shape[3]
    assert int((~blocks[:, 0]).sum()) == round(s * n_blocks)
    assert sparsity_of(np.where(m, 1, 0)) == pytest.approx(round(s * n_blocks) / n_blocks)
    score = np.abs(canon(w, layout)).reshape(blocks.shape).mean(axis=1)
    kept = blocks[:, 0]
    if kept.any() and (~kept).any():
        assert score[kept].min() >= score[~kept].max()


def test_4x1_orientation_matmul_kn():
    """For W[K, N] a 4x1 block is one row k and four consecutive columns n."""
    w = np.full((8, 8), 0.01, np.float32)
    w[3, 4:8] = 5.0  # one strong block: row 3, columns 4..7
    m = magnitude_mask(w, 1 - 1 / 16, "4x1")  # keep exactly 1 of 16 blocks
    expected = np.zeros((8, 8), bool)
    expected[3, 4:8] = True
    np.testing.assert_array_equal(m, expected)


def test_4x1_orientation_conv_oihw():
    w = np.full((8, 4, 3, 3), 0.01, np.float32)
    w[4:8, 2, 1, 0] = 5.0  # output channels 4..7 at input channel 2, tap (1, 0)
    n_blocks = 2 * 4 * 9
    m = magnitude_mask(w, 1 - 1 / n_blocks, "4x1")
    expected = np.zeros(w.shape, bool)
    expected[4:8, 2, 1, 0] = True
    np.testing.assert_array_equal(m, expected)


def test_4x1_partial_block_when_outputs_not_multiple_of_4():
    w = rnd((16, 10))  # N = 10: blocks of columns 0-3, 4-7, 8-9
    m = magnitude_mask(w, 0.5, "4x1")
    for cols in (slice(0, 4), slice(4, 8), slice(8, 10)):
        blk = m[:, cols]
        assert np.all(blk.all(axis=1) | ~blk.any(axis=1))
    assert int((~m[:, [0, 4, 8]]).sum()) == round(0.5 * 16 * 3)


# ---- 1x4: 1 output x 4 consecutive inputs ----------------------------------------------------------
@pytest.mark.parametrize("layout,shape", CASES)
@pytest.mark.parametrize("s", [0.0, 0.5, 0.8, 0.9, 1.0])
def test_1x4_blocks_span_4_inputs(layout, shape, s):
    w = rnd(shape)
    m = magnitude_mask(w, s, "1x4", layout=layout)
    c = canon(m, layout)
    blocks = c.reshape(c.shape[0], c.shape[1], c.shape[2] // 4, 4)
    assert np.all(blocks.all(axis=3) | ~blocks.any(axis=3)), "a 1x4 block is partly kept"
    n_blocks = blocks[..., 0].size
    assert int((~blocks[..., 0]).sum()) == round(s * n_blocks)
    score = np.abs(canon(w, layout)).reshape(blocks.shape).mean(axis=3)
    kept = blocks[..., 0]
    if kept.any() and (~kept).any():
        assert score[kept].min() >= score[~kept].max()


def test_1x4_orientation_matmul_kn():
    """For W[K, N] a 1x4 block is four consecutive rows k of one column n."""
    w = np.full((8, 8), 0.01, np.float32)
    w[4:8, 6] = 5.0
    m = magnitude_mask(w, 1 - 1 / 16, "1x4")
    expected = np.zeros((8, 8), bool)
    expected[4:8, 6] = True
    np.testing.assert_array_equal(m, expected)


# ---- 2:4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout,shape", CASES)
def test_2_4_keeps_the_two_largest_of_every_4_inputs(layout, shape):
    w = rnd(shape, seed=5)
    m = magnitude_mask(w, 0.5, "2:4", layout=layout)
    np.testing.assert_array_equal(m, magnitude_mask(w, None, "2:4", layout=layout))
    c = canon(m, layout)
    g = c.reshape(c.shape[0], c.shape[1], c.shape[2] // 4, 4)
    assert np.all(g.sum(axis=3) == 2)
    a = np.abs(canon(w, layout)).reshape(g.shape)
    kept_min = np.where(g, a, np.inf).min(axis=3)
    dropped_max = np.where(g, -np.inf, a).max(axis=3)
    assert np.all(kept_min >= dropped_max)
    assert sparsity_of(np.where(m, 1, 0)) == 0.5


def test_2_4_ties_keep_lower_index_and_tail_group():
    w = np.array([[1], [1], [1], [1], [2], [0], [3], [3], [1], [1]], np.float32)  # K=10, N=1
    m = magnitude_mask(w, 0.5, "2:4")
    np.testing.assert_array_equal(m[:, 0], [1, 1, 0, 0, 0, 0, 1, 1, 1, 1])


def test_2_4_rejects_other_sparsities():
    with pytest.raises(ValueError, match="2:4"):
        magnitude_mask(rnd((8, 8)), 0.9, "2:4")


# ---- errors and helpers -------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    (dict(sparsity=0.5, pattern="8x1"), "pattern"),
    (dict(sparsity=1.5, pattern="unstructured"), "sparsity"),
    (dict(sparsity=-0.1, pattern="4x1"), "sparsity"),
    (dict(sparsity=None, pattern="unstructured"), "sparsity"),
    (dict(sparsity=0.5, pattern="4x1", layout="OIHW"), "OIHW"),
    (dict(sparsity=0.5, pattern="4x1", layout="KCRS"), "layout"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        magnitude_mask(rnd((8, 8)), **kwargs)


def test_nan_rejected():
    w = rnd((8, 8))
    w[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        magnitude_mask(w, 0.5)


def test_prune_zeroes_exactly_the_mask():
    w = rnd((32, 48))
    p = prune(w, 0.75, "4x1")
    m = magnitude_mask(w, 0.75, "4x1")
    assert p.dtype == w.dtype
    np.testing.assert_array_equal(p[m], w[m])
    assert np.all(p[~m] == 0)
    assert sparsity_of(p) == 0.75
