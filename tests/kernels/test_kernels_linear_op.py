"""kernels.LinearOp (a PackedMatMul bound at plan time): its fast path against numpy, and None
wherever the call does not fit it, so the op's general path takes over."""
import numpy as np
import pytest

from sparse_runtime import kernels
from kernel_oracle import activate, assert_close


def _setup(n=40, k=24, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, k)).astype(np.float32)
    w[rng.random(w.shape) < 0.7] = 0
    bias = rng.standard_normal(n).astype(np.float32)
    return rng, w, bias


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("lead", [(5,), (2, 3, 7), (1, 130)])
def test_rows_any_rank_with_residual(fmt, lead):
    rng, w, bias = _setup()
    x = rng.standard_normal(lead + (24,)).astype(np.float32)
    r = rng.standard_normal(lead + (40,)).astype(np.float32)
    op = kernels.LinearOp(kernels.pack(w, fmt), bias, "relu", False, False)
    want = activate(x.astype(np.float64) @ w.T + bias + r, "relu")
    got = op.rows(x, r)
    assert got.shape == lead + (40,)
    assert_close(got, want, fmt)
    assert_close(op.rows(x), activate(x.astype(np.float64) @ w.T + bias, "relu"), fmt)


def test_tiles_round_trip():
    rng, w, bias = _setup()
    w2 = rng.standard_normal((24, 40)).astype(np.float32)
    x = rng.standard_normal((70, 24)).astype(np.float32)
    first = kernels.LinearOp(kernels.pack(w, "csr"), bias, "gelu_erf", False, True)
    second = kernels.LinearOp(kernels.pack(w2, "dense"), None, "none", True, False)
    tiles = first.rows(x)
    assert tiles.shape == (2, 40, 64)
    r = rng.standard_normal((70, 24)).astype(np.float32)
    got = second.tiles(tiles, (70, 40), r)
    hidden = activate(x.astype(np.float64) @ w.T + bias, "gelu_erf")
    assert got.shape == (70, 24)
    assert_close(got, hidden @ w2.T + r)
    in_3d = second.tiles(tiles, (2, 35, 40), r.reshape(2, 35, 24))
    assert in_3d.shape == (2, 35, 24)
    assert_close(in_3d, (hidden @ w2.T + r).reshape(2, 35, 24))


@pytest.mark.parametrize("fmt", ["csr", "dense"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_one_token_tiles_round_trip(threads, fmt):
    """BERT's FFN pair at one token: into token tiles (C with a 64-float row stride) with bias and
    GELU, then from tiles to a row with a residual (rows_out); for CSR on the one-column path by
    weight panel, for dense by 32-row panels, both storing W rows at a time through the strided
    epilogue. Against numpy, and the same bits as one token through plain rows."""
    from sparse_runtime.testing.cases import Case, make_weight
    rng = np.random.default_rng(11)
    w1 = make_weight(Case(1000, 700, 1, 0.1), seed=12)  # 4 panels of 192: split by rows too
    w2 = make_weight(Case(700, 1000, 1, 0.1), seed=13)  # 6 panels
    b1 = rng.standard_normal(1000).astype(np.float32)
    x = rng.standard_normal((1, 700)).astype(np.float32)
    r = rng.standard_normal((1, 700)).astype(np.float32)
    with kernels.num_threads(threads):
        first = kernels.LinearOp(kernels.pack(w1, fmt), b1, "gelu_erf", False, True)
        second = kernels.LinearOp(kernels.pack(w2, fmt), None, "none", True, False)
        tiles = first.rows(x)
        assert tiles.shape == (1, 1000, 64)
        got = second.tiles(tiles, (1, 1000), r)
        plain_first = kernels.LinearOp(kernels.pack(w1, fmt), b1, "gelu_erf", False, False)
        plain_second = kernels.LinearOp(kernels.pack(w2, fmt), None, "none", False, False)
        by_rows = plain_second.rows(plain_first.rows(x), r)
    hidden = activate(x.astype(np.float64) @ w1.T + b1, "gelu_erf")
    assert got.shape == (1, 700) and got.dtype == np.float32
    assert_close(tiles[0, :, :1].T, hidden, "tiles")
    assert_close(got, hidden @ w2.T + r)
    np.testing.assert_array_equal(got, by_rows)


def test_declines_what_the_fast_path_does_not_take():
    rng, w, bias = _setup()
    op = kernels.LinearOp(kernels.pack(w, "dense"), bias, "none", False, False)
    x = rng.standard_normal((6, 24)).astype(np.float32)
    assert op.rows(x.astype(np.float64)) is None                 # another dtype
    assert op.rows(np.asfortranarray(rng.standard_normal((6, 24)), np.float32)) is None  # not C-contiguous
    assert op.rows(rng.standard_normal((6, 23)).astype(np.float32)) is None   # wrong K
    assert op.rows(x, np.ones((1, 40), np.float32)) is None      # a residual that broadcasts
    x3 = rng.standard_normal((2, 3, 24)).astype(np.float32)
    assert op.rows(x3, np.ones((3, 2, 40), np.float32)) is None  # as many values, another shape
    assert op.rows([[1.0] * 24]) is None                         # not an array
    assert op.tiles(np.zeros((1, 24, 64), np.float32), (5, 24)) is None  # bound for rows
    tiled_in = kernels.LinearOp(kernels.pack(w, "dense"), None, "none", True, False)
    assert tiled_in.tiles(np.zeros((1, 24, 64), np.float32), (65, 24)) is None  # 65 tokens need 2 tiles
    assert tiled_in.tiles(np.zeros((1, 24, 64), np.float32), (5, 23)) is None  # wrong K
    assert tiled_in.rows(x) is None


def test_bias_checked_when_bound():
    _, w, _ = _setup()
    with pytest.raises(ValueError, match="bias"):
        kernels.LinearOp(kernels.pack(w, "dense"), np.ones(39, np.float32), "none", False, False)
    with pytest.raises(ValueError, match="activation"):
        kernels.LinearOp(kernels.pack(w, "dense"), None, "swish", False, False)
