"""Every kernel format x every ISA this CPU runs x the shared case table, against numpy."""
import numpy as np
import pytest
import scipy.sparse as sp

from sparse_runtime import kernels
from sparse_runtime.testing.cases import TEST_CASES, Case, formats_for, make_weight
from kernel_oracle import activate, assert_close

ISAS = kernels.supported_isas()


@pytest.fixture(params=ISAS)
def isa(request):
    with kernels.force_isa(request.param):
        yield request.param


@pytest.mark.parametrize("case", TEST_CASES, ids=lambda c: c.id)
def test_spmm_all_formats_match_numpy(isa, case):
    rng = np.random.default_rng(1)
    a = make_weight(case)
    b = rng.standard_normal((case.k, case.m)).astype(np.float32)
    bias = rng.standard_normal(case.n).astype(np.float32)
    want = a.astype(np.float64) @ b + bias[:, None]
    for fmt in formats_for(case):
        packed = kernels.pack(a, fmt)
        got = kernels.spmm(packed, b, bias)
        assert_close(got, want, f"{isa}/{fmt}/{case.id}")
        got_nobias = kernels.spmm(packed, b)
        assert_close(got_nobias, a.astype(np.float64) @ b, f"{isa}/{fmt}/{case.id} no bias")


@pytest.mark.parametrize("fmt,pattern,density", [("csr", "unstructured", 0.1), ("bsr1x4", "1x4", 0.2),
                                                  ("nm24", "2:4", 0.5), ("bsr4x1", "4x1", 0.2)])
def test_every_register_tile_shape(isa, fmt, pattern, density):
    """Column counts 1..72 reach every tile a kernel has: 1 to NVMAX vectors (CSR on AVX2: 8, the
    widest with one accumulator set; on AVX-512: 4, two sets), each full and with a partial last
    vector (AVX2's 3-vector 4x1 tile then runs as 2 + 1), and a whole 64-column tile plus a rest; k = 800 at 10 % is five CSR k-panels of
    192 (pack.cc), so partial sums go through C."""
    rng = np.random.default_rng(4)
    a = make_weight(Case(20, 800, 1, density, pattern), seed=5)
    packed = kernels.pack(a, fmt)
    bias = rng.standard_normal(20).astype(np.float32)
    for m in range(1, 73):
        b = rng.standard_normal((800, m)).astype(np.float32)
        got = kernels.spmm(packed, b, bias)
        assert got.shape == (20, m) and got.dtype == np.float32
        assert_close(got, a.astype(np.float64) @ b + bias[:, None], f"{isa}/{fmt}/m={m}")


def _half_in_first_panel(seed):
    """1000 x 3000 at 10 %, but rows 500-999 only within k < 192 (the first of 16 panels of 192):
    their tasks meet an empty run in every later panel."""
    w = make_weight(Case(1000, 3000, 1, 0.1), seed=seed)
    w[500:, 192:] = 0.0
    return w


def _dense_outliers(seed):
    """200 x 1000 at 10 % with rows 3 and 77 fully dense (192 per panel: 12 vectors, the run-time
    count) and row 130 at 30 %: groups of 16 rows with 2, 4 and 12 vectors in one 64-row block."""
    w = make_weight(Case(200, 1000, 1, 0.1), seed=seed)
    rng = np.random.default_rng(seed)
    w[[3, 77]] = rng.standard_normal((2, 1000)).astype(np.float32)
    w[130] = np.where(rng.random(1000) < 0.3, rng.standard_normal(1000), 0).astype(np.float32)
    return w


@pytest.mark.parametrize("weight", [
    lambda seed: make_weight(Case(1000, 3000, 1, 0.1), seed=seed),  # 16 panels, 8+ tasks
    _dense_outliers,
    _half_in_first_panel,  # empty runs
    lambda seed: make_weight(Case(300, 2000, 1, 0.03, "empty_rows"), seed=seed),  # ~12 K nonzeros: split too
    lambda seed: make_weight(Case(257, 1100, 1, 0.005), seed=seed),  # one task, 5 panels
    lambda seed: make_weight(Case(3000, 700, 1, 0.1), seed=seed),  # 4 panels: each split by rows
    lambda seed: make_weight(Case(90, 800, 1, 0.4), seed=seed),  # 64-deep panels, ~26 per row and panel
    lambda seed: make_weight(Case(41, 1000, 1, 0.6), seed=seed),  # ~38 per row and panel: 3 vectors
    lambda seed: make_weight(Case(13, 250, 1, 0.1), seed=seed),  # one panel, 13 rows (AVX-512: under a vector)
], ids=["16-panels", "dense-outliers", "empty-runs", "small-layer", "one-task", "rows-split", "64-deep", "dense-rows",
        "one-panel"])
def test_one_column_csr_over_many_panels_and_tasks(isa, weight):
    """One column of CSR (a single token): tasks by weight panel (spmm.cc, column_by_panels), whole
    panels or one panel's row chunk each, whose last task per chunk sums the panels; per block of
    rows, the gathered activations and each row's masked vectors (csr_panel_dots). Covered: 1 to 16
    k-panels, rows empty in every panel and whole panels empty for half the rows, rows longer than
    one and two vectors, fewer rows than a vector, 1 to 5 threads; the threads agree bit for bit (one
    summation order per row), and with the row-split walk that a 65th column takes (csr_gemv)."""
    rng = np.random.default_rng(6)
    a = weight(7)
    n, k = a.shape
    packed = kernels.pack(a, "csr")
    b = rng.standard_normal((k, 1)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    want = a.astype(np.float64) @ b + bias[:, None]
    results = []
    for threads in (1, 2, 3, 5):
        with kernels.num_threads(threads):
            got = kernels.spmm(packed, b, bias)
        assert got.shape == (n, 1) and got.dtype == np.float32
        assert_close(got, want, f"{isa}/threads={threads}")
        results.append(got)
    wide = np.concatenate([rng.standard_normal((k, 64)).astype(np.float32), b], axis=1)
    with kernels.num_threads(5):
        results.append(kernels.spmm(packed, wide, bias)[:, 64:])
    for got in results[1:]:
        np.testing.assert_array_equal(got, results[0])


@pytest.mark.parametrize("k", [17, 50, 90, 128, 150, 180, 200, 256, 270, 609])
def test_one_column_csr_panel_depths(isa, k):
    """The one-column walk's gather at every panel depth: on AVX-512 a register table of 1-8
    segments of 32 floats (k = 17 ... 256, one panel each as k <= 288 at 10 %: pack.cc), the scalar
    gather past 256 (k = 270: 9 segments), and panels of 192 with a 33-deep last one (k = 609).
    70 rows: a whole 64-row block and a rest. Values against float64 numpy; the same column as
    the 65th of a wider B (read with a row stride of 65, so each panel's slice is copied first)
    gives the same bits."""
    rng = np.random.default_rng(k)
    a = make_weight(Case(70, k, 1, 0.1), seed=k)
    packed = kernels.pack(a, "csr")
    b = rng.standard_normal((k, 1)).astype(np.float32)
    got = kernels.spmm(packed, b)
    assert got.shape == (70, 1) and got.dtype == np.float32
    assert_close(got, a.astype(np.float64) @ b, f"{isa}/k={k}")
    wide = np.concatenate([rng.standard_normal((k, 64)).astype(np.float32), b], axis=1)
    np.testing.assert_array_equal(kernels.spmm(packed, wide)[:, 64:], got)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("act", ["none", "relu", "gelu_erf", "gelu_tanh"])
@pytest.mark.parametrize("n", [5, 16, 777])
def test_one_token_linear_epilogue(isa, act, n, threads):
    """A single token through linear (the one-column CSR path): bias, residual and activation applied
    by the sum of each row chunk (one chunk; at n = 777 and 3 threads three, as its 5 panels are fewer
    than the 12 tasks wanted), vector lanes and the scalar rest (n = 5, 16, 777), into out=."""
    rng = np.random.default_rng(9)
    w = make_weight(Case(n, 900, 1, 0.1), seed=10)  # packed as [N, K]
    x = rng.standard_normal((1, 900)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    r = rng.standard_normal((1, n)).astype(np.float32)
    packed = kernels.pack(w, "csr")
    plain = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    out = np.full((1, n), np.nan, np.float32)
    with kernels.num_threads(threads):
        assert_close(kernels.linear(x, packed, bias, act), activate(plain, act), f"{isa}/{act}/n={n}")
        got = kernels.linear(x, packed, bias, act, out=out, residual=r)
    assert got is out and got.dtype == np.float32
    assert_close(out, activate(plain + r, act), f"{isa}/{act}/n={n} residual")


@pytest.mark.parametrize("act", ["relu", "gelu_erf", "gelu_tanh"])
@pytest.mark.parametrize("fmt", ["dense", "csr", "bsr4x1", "bsr1x4"])
def test_fused_activation(isa, fmt, act):
    rng = np.random.default_rng(2)
    a = make_weight(TEST_CASES[6])
    b = rng.standard_normal((a.shape[1], 37)).astype(np.float32)
    bias = rng.standard_normal(a.shape[0]).astype(np.float32)
    got = kernels.spmm(kernels.pack(a, fmt), b, bias, act)
    assert_close(got, activate(a.astype(np.float64) @ b + bias[:, None], act), f"{isa}/{fmt}/{act}")


@pytest.mark.parametrize("act", ["relu", "gelu_erf", "gelu_tanh"])
def test_activation_inplace_covers_tails(isa, act):
    x = np.linspace(-8, 8, 1001, dtype=np.float32)
    want = activate(x.astype(np.float64), act)
    got = kernels.activation_(x.copy(), act)
    np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


@pytest.mark.parametrize("m", [1, 2, 15, 16, 17, 64, 130])
@pytest.mark.parametrize("fmt", ["dense", "csr", "bsr4x1"])
def test_linear_row_major(isa, fmt, m):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((40, 21)).astype(np.float32)  # MatMul weight [K, N]
    w[rng.random(w.shape) < 0.7] = 0
    x = rng.standard_normal((m, 40)).astype(np.float32)
    bias = rng.standard_normal(21).astype(np.float32)
    packed = kernels.pack(w.T, fmt)
    got = kernels.linear(x, packed, bias, "relu")
    assert_close(got, np.maximum(x.astype(np.float64) @ w + bias, 0), f"{isa}/{fmt}/m={m}")
    out = np.full((m, 21), np.nan, np.float32)
    assert kernels.linear(x, packed, bias, "relu", out=out) is out
    assert_close(out, np.maximum(x.astype(np.float64) @ w + bias, 0), "out=")


@pytest.mark.parametrize("n", [72, 1024, 1029])
@pytest.mark.parametrize("act", ["none", "relu", "gelu_erf"])
def test_linear_wide_rows_out(isa, n, act):
    """More outputs than a token tile is wide, so the tiles go back to rows through the transposes'
    output-major loop order (the input side takes the other order); 1024 outputs is a 4 KiB-multiple
    stride; ragged strips on both sides, with and without a residual. Values only: the order's
    speed is in the commit and docs/architecture.md."""
    rng = np.random.default_rng(7)
    w = make_weight(Case(n, 48, 1, 0.3), seed=8)  # packed as [N, K]
    x = rng.standard_normal((70, 48)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    r = rng.standard_normal((70, n)).astype(np.float32)
    plain = x.astype(np.float64) @ w.T.astype(np.float64) + bias
    packed = kernels.pack(w, "csr")
    got = kernels.linear(x, packed, bias, act)
    assert got.shape == (70, n) and got.dtype == np.float32
    assert_close(got, activate(plain, act), f"{isa}/n={n}/{act}")
    assert_close(kernels.linear(x, packed, bias, act, residual=r), activate(plain + r, act), f"{isa}/n={n}/{act}/residual")


def test_threads_give_identical_results():
    rng = np.random.default_rng(4)
    a = make_weight(TEST_CASES[-1])
    b = rng.standard_normal((a.shape[1], 300)).astype(np.float32)
    packed = kernels.pack(a, "csr")
    before = kernels.get_num_threads()
    with kernels.num_threads(1):
        one = kernels.spmm(packed, b)
    with kernels.num_threads(3):
        assert kernels.get_num_threads() == 3
        three = kernels.spmm(packed, b)
    assert kernels.get_num_threads() == before
    np.testing.assert_array_equal(one, three)  # same per-row summation order whatever the split


def test_every_task_runs_once_for_any_thread_count():
    # The pool gives each thread a share of the tasks and lets early finishers take the rest of
    # the others': a task skipped leaves np.empty garbage, one run twice would double a
    # k-block's partial sums. Jobs from 1 task to hundreds, more threads than tasks included.
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 80, 23, 29)).astype(np.float32)
    w = kernels.pack(rng.standard_normal((72, 80 * 9)).astype(np.float32), "dense")
    a = kernels.pack(make_weight(TEST_CASES[-1]), "csr")
    b = rng.standard_normal((a.shape[1], 70)).astype(np.float32)
    results = []
    for threads in (1, 2, 3, 5, 8):
        with kernels.num_threads(threads):
            results.append([kernels.conv2d([w], kernels.to_blocked(x), None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1),
                                           x_blocked=True, y_blocked=True),
                            kernels.spmm(a, b), kernels.spmm(a, b[:, :1].copy())])
    for got in results[1:]:
        for g, want in zip(got, results[0]):
            np.testing.assert_array_equal(g, want)


def test_concurrent_callers_share_the_pool():
    import threading

    rng = np.random.default_rng(5)
    a = make_weight(TEST_CASES[-2])
    packed = kernels.pack(a, "csr")
    inputs = [rng.standard_normal((a.shape[1], 200)).astype(np.float32) for _ in range(8)]
    want = [kernels.spmm(packed, b) for b in inputs]
    got = [None] * len(inputs)

    def work(i):
        for _ in range(20):
            got[i] = kernels.spmm(packed, inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a caller hung"
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _csr_export_matches_scipy(a):
    """Packs a as CSR, checks its row-order export against scipy's CSR of a; returns both."""
    packed = kernels.pack(a, "csr")
    ref = sp.csr_matrix(a)
    arr = packed.arrays()
    np.testing.assert_array_equal(arr["ptr"], ref.indptr)
    np.testing.assert_array_equal(arr["col"], ref.indices)
    np.testing.assert_array_equal(arr["val"], ref.data)
    return packed, ref


def test_scipy_round_trip_csr_and_bsr():
    a = make_weight(TEST_CASES[8])  # has empty rows
    csr, ref = _csr_export_matches_scipy(a)
    assert csr.nnz == ref.nnz
    for fmt in ("dense", "csr", "bsr4x1", "bsr1x4"):
        p = kernels.pack(a[:, :40], fmt)
        np.testing.assert_array_equal(p.to_dense(), a[:, :40])
        np.testing.assert_array_equal(kernels.to_scipy(p).toarray(), a[:, :40])
    # BSR 4x1 keeps exactly the blocks scipy's BSR keeps.
    rows = -(-a.shape[0] // 4) * 4
    padded = np.zeros((rows, a.shape[1]), np.float32)
    padded[: a.shape[0]] = a
    ref_bsr = sp.bsr_matrix(padded, blocksize=(4, 1))
    ref_bsr.sort_indices()  # scipy builds block rows unsorted; ours are column-ordered
    arr = kernels.pack(a, "bsr4x1").arrays()
    np.testing.assert_array_equal(arr["ptr"], ref_bsr.indptr)
    np.testing.assert_array_equal(arr["col"], ref_bsr.indices)
    np.testing.assert_array_equal(arr["val"].reshape(-1, 4, 1), ref_bsr.data)
    # And back in from scipy.
    back = kernels.from_scipy(ref)
    np.testing.assert_array_equal(back.to_dense(), a)


def test_csr_over_many_panels_round_trip_and_size():
    """CSR keeps each column as uint16 within its k-panel (formats.h, item 4): over six panels of
    192 the exported row-order columns, the dense copy and scipy's round trip are exact, and the
    packed bytes are 6 per nonzero plus the row and panel pointers."""
    a = make_weight(Case(50, 1100, 1, 0.1), seed=3)  # panels of 192: five whole, a last of 140
    a[7, 1099] = 1.5  # the last k of the last panel
    a[8, 0] = -2.0
    packed, ref = _csr_export_matches_scipy(a)
    np.testing.assert_array_equal(packed.to_dense(), a)
    np.testing.assert_array_equal(kernels.to_scipy(packed).toarray(), a)
    panels = -(-1100 // 192)
    assert packed.nbytes == 6 * ref.nnz + 4 * (51 + panels * 51)


def test_nm24_round_trip_and_compactness():
    case = TEST_CASES[11]
    a = make_weight(case)
    p = kernels.pack(a, "nm24")
    np.testing.assert_array_equal(p.to_dense(), a)
    assert p.stored == a.size // 2 and p.arrays()["idx"].dtype == np.uint8


def test_pack_rejects_what_a_format_cannot_hold():
    dense = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match="2:4"):
        kernels.pack(dense, "nm24")
    with pytest.raises(ValueError, match="multiple of 4"):
        kernels.pack(np.ones((4, 6), np.float32), "bsr1x4")
    with pytest.raises(ValueError, match="unknown weight format"):
        kernels.pack(dense, "coo")


def test_native_checks_what_python_hands_it():
    from sparse_runtime import _native

    p = kernels.pack(np.eye(8, dtype=np.float32), "csr")
    with pytest.raises(TypeError, match="float32"):
        kernels.spmm(p, np.ones((8, 3)))
    with pytest.raises(ValueError, match="dimension 0"):
        kernels.spmm(p, np.ones((7, 3), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.spmm(p, np.ones((3, 8), np.float32).T)
    with pytest.raises(ValueError, match="bias"):
        kernels.spmm(p, np.ones((8, 3), np.float32), np.ones(5, np.float32))
    with pytest.raises(ValueError, match="activation"):
        kernels.spmm(p, np.ones((8, 3), np.float32), None, "swish")
    with pytest.raises(ValueError, match="out"):
        kernels.linear(np.ones((3, 8), np.float32), p, out=np.ones((3, 7), np.float32))
    with pytest.raises(ValueError, match="outside"):
        _native.from_csr(2, 3, np.array([0, 1, 2]), np.array([0, 3]), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="decrease"):
        _native.from_csr(2, 3, np.array([0, 2, 1]), np.array([0]), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="n\\+1"):
        _native.from_csr(2, 3, np.array([0, 1]), np.array([0]), np.ones(1, np.float32))


def test_cpu_info_and_isa_switching():
    info = kernels.cpu_info()
    assert info["isa"] in ISAS and info["best_isa"] == ISAS[-1]
    assert set(info["features"]) >= {"avx2", "fma", "avx512f"}
    with pytest.raises(ValueError, match="unknown ISA"):
        kernels.set_isa("sse9")
    if "avx2" in ISAS:
        with kernels.force_isa("avx2"):
            assert kernels.cpu_info()["isa"] == "avx2"
            assert kernels.kernel_name("csr").endswith("-avx2")
    assert kernels.get_isa() == info["isa"]


@pytest.mark.parametrize("act", ["gelu_erf", "relu", "none"])  # ReLU / none: summed in the transpose
@pytest.mark.parametrize("m", [1, 17, 130])
@pytest.mark.parametrize("fmt", ["dense", "csr", "bsr4x1"])
def test_linear_residual_added_before_activation(isa, fmt, m, act):
    rng = np.random.default_rng(6)
    w = make_weight(TEST_CASES[6]).T.copy()  # [K, N]
    x = rng.standard_normal((m, w.shape[0])).astype(np.float32)
    r = rng.standard_normal((m, w.shape[1])).astype(np.float32)
    bias = rng.standard_normal(w.shape[1]).astype(np.float32)
    got = kernels.linear(x, kernels.pack(w.T, fmt), bias, act, residual=r)
    assert_close(got, activate(x.astype(np.float64) @ w + bias + r, act), f"{isa}/{fmt}/m={m}/{act}")
    with pytest.raises(ValueError, match="residual"):
        kernels.linear(x, kernels.pack(w.T, fmt), bias, "relu", residual=r[:, :-1].copy())
