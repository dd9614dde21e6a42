"""Every pattern's mask obeys its definition exactly, for every method and layout, and global
scope is one threshold across layers."""
from __future__ import annotations

import numpy as np
import pytest
from prune_testutil import hetero_inputs, rnd

from sparse_runtime.models.prune import magnitude_mask
from sparse_runtime.prune.allocate import allocate_global
from sparse_runtime.prune.calibration import LayerStats
from sparse_runtime.prune.methods import get
from sparse_runtime.prune.patterns import PATTERNS, canonical, mask_from_scores
from sparse_runtime.testing.layouts import canon

CASES = [("KN", (64, 48)), ("NK", (48, 64)), ("OIHW", (16, 8, 3, 3)), ("OIHW", (12, 6, 3, 3))]


def check_pattern(keep, pattern, sparsity, layout, per_output=False):
    """Assert that the keep-mask has the structure and the exact count of its pattern."""
    c = canon(keep, layout)
    out, taps, inn = c.shape
    if pattern == "unstructured":
        if per_output:
            assert all(int((~row).sum()) == round(sparsity * taps * inn) for row in c.reshape(out, -1))
        else:
            assert int((~keep).sum()) == round(sparsity * keep.size)
    elif pattern == "4x1":
        nb = -(-out // 4)
        padded = np.pad(c, ((0, nb * 4 - out), (0, 0), (0, 0)), mode="edge").reshape(nb, 4, taps, inn)
        assert (padded == padded[:, :1]).all(), "4x1 blocks must be all kept or all zero"
        zero_blocks = int((~padded[:, 0]).sum())
        want = round(sparsity * taps * inn) * nb if per_output else round(sparsity * nb * taps * inn)
        assert zero_blocks == want
    elif pattern == "1x4":
        nb = -(-inn // 4)
        padded = np.pad(c, ((0, 0), (0, 0), (0, nb * 4 - inn)), mode="edge").reshape(out, taps, nb, 4)
        assert (padded == padded[..., :1]).all(), "1x4 blocks must be all kept or all zero"
        zero_blocks = int((~padded[..., 0]).sum())
        want = round(sparsity * taps * nb) * out if per_output else round(sparsity * out * taps * nb)
        assert zero_blocks == want
    elif pattern == "2:4":
        for g0 in range(0, inn, 4):
            g = c[:, :, g0:g0 + 4]
            assert (g.sum(-1) == min(2, g.shape[-1])).all(), "2:4: exactly 2 kept per 4 inputs"
    elif pattern == "channel":
        rows = c.reshape(out, -1)
        assert (rows.all(1) | ~rows.any(1)).all(), "channel: whole outputs kept or removed"
        assert int((~rows.any(1)).sum()) == round(sparsity * out)


def sparsity_for(pattern, s):
    return 0.5 if pattern == "2:4" else s


@pytest.mark.parametrize("layout,shape", CASES)
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("s", [0.0, 0.5, 0.75, 0.9])
def test_magnitude_masks_obey_pattern(layout, shape, pattern, s):
    s = sparsity_for(pattern, s)
    w = rnd(shape, 1)
    keep = mask_from_scores(np.abs(w), s, pattern, layout)
    assert keep.shape == w.shape and keep.dtype == bool
    check_pattern(keep, pattern, s, layout)
    if pattern != "channel":  # the element patterns are exactly models.prune's
        np.testing.assert_array_equal(keep, magnitude_mask(w, s, pattern, layout))
    else:  # lowest-L1 outputs go
        l1 = np.abs(canon(w, layout)).reshape(canon(w, layout).shape[0], -1).sum(1)
        gone = ~canon(keep, layout).reshape(len(l1), -1).any(1)
        if gone.any() and (~gone).any():
            assert l1[gone].max() <= l1[~gone].min()


@pytest.mark.parametrize("layout,shape", CASES)
@pytest.mark.parametrize("pattern", ["unstructured", "4x1", "1x4"])
def test_per_output_masks_give_every_output_the_same_count(layout, shape, pattern):
    w = np.abs(rnd(shape, 2))
    keep = mask_from_scores(w, 0.75, pattern, layout, per_output=True)
    check_pattern(keep, pattern, 0.75, layout, per_output=True)


def _stats(layout, shape, seed=0):
    k = int(np.prod(shape[1:])) if layout == "OIHW" else (shape[0] if layout == "KN" else shape[1])
    st = LayerStats(k, hessian=True)
    st.add(hetero_inputs(4 * k, k, seed))
    return st


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("layout,shape", CASES)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_method_obeys_every_pattern(method, layout, shape, pattern):
    s = sparsity_for(pattern, 0.75)
    w = rnd(shape, 3)
    pruned = get(method)(w, s, pattern, layout, _stats(layout, shape))
    assert pruned.shape == w.shape and pruned.dtype == w.dtype
    check_pattern(pruned != 0, pattern, s, layout, per_output=(method == "wanda"))


def test_pattern_groups_follow_the_documented_orientation():
    """4x1 = 4 outputs x 1 input: for KN [K, N] a block is W[k, 4j:4j+4]; 1x4 and 2:4 groups are 4
    consecutive K (input) elements W[4i:4i+4, n]."""
    w = rnd((8, 8), 4)
    k41 = mask_from_scores(np.abs(w), 0.5, "4x1", "KN")
    assert (k41.reshape(8, 2, 4) == k41.reshape(8, 2, 4)[:, :, :1]).all()
    k14 = mask_from_scores(np.abs(w), 0.5, "1x4", "KN")
    assert (k14.reshape(2, 4, 8) == k14.reshape(2, 4, 8)[:, :1]).all()
    k24 = mask_from_scores(np.abs(w), 0.5, "2:4", "KN")
    assert (k24.reshape(2, 4, 8).sum(1) == 2).all()


def test_channel_on_conv_removes_whole_filters():
    w = rnd((8, 4, 3, 3), 5)
    w[[1, 6]] *= 0.01
    keep = mask_from_scores(np.abs(w), 0.25, "channel", "OIHW")
    assert [int(keep[i].any()) for i in range(8)] == [1, 0, 1, 1, 1, 1, 0, 1]


@pytest.mark.parametrize("pattern", ["unstructured", "4x1", "1x4", "channel"])
def test_global_scope_is_one_threshold_across_layers(pattern):
    ws = [rnd((32, 24), 6, 1.0), rnd((24, 40), 7, 0.3), rnd((8, 4, 3, 3), 8, 2.0)]
    layouts = ["KN", "NK", "OIHW"]
    shares = allocate_global([canonical(np.abs(w), lay) for w, lay in zip(ws, layouts)], 0.7, pattern)
    assert len({round(x, 3) for x in shares}) > 1, "layers of different scale get different sparsity"
    keeps = [mask_from_scores(np.abs(w), sh, pattern, lay) for w, sh, lay in zip(ws, shares, layouts)]
    total = sum(w.size for w in ws)
    pruned = sum(int((~k).sum()) for k in keeps)
    assert abs(pruned - 0.7 * total) <= (4 if pattern in ("4x1", "1x4") else 1 if pattern == "unstructured"
                                         else max(int(np.prod(w.shape[1:])) for w in ws))
    if pattern == "unstructured":
        kept = np.concatenate([np.abs(w)[k] for w, k in zip(ws, keeps)])
        gone = np.concatenate([np.abs(w)[~k] for w, k in zip(ws, keeps)])
        assert gone.max() <= kept.min()


def test_bad_arguments_raise():
    w = rnd((8, 8))
    with pytest.raises(ValueError, match="unknown sparsity pattern"):
        mask_from_scores(np.abs(w), 0.5, "3:8")
    with pytest.raises(ValueError, match="2:4"):
        mask_from_scores(np.abs(w), 0.9, "2:4")
    with pytest.raises(ValueError, match="non-negative"):
        mask_from_scores(w, 0.5, "unstructured")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mask_from_scores(np.abs(w), 1.5, "channel")
