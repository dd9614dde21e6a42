"""Native glue between kernels: row gathers (any numeric dtype) and same-shape float32 adds, against numpy."""
import numpy as np
import pytest

from sparse_runtime import kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_gather_rows_matches_take(dtype, index_dtype):
    rng = np.random.default_rng(0)
    table = (rng.standard_normal((50, 3, 7)) * 5).astype(dtype)
    for idx in (np.array([[0, -1], [49, -50], [3, 3]]), np.arange(-50, 50), np.array(7), np.zeros((0, 4))):
        idx = idx.astype(index_dtype)
        got = kernels.gather_rows(table, idx)
        want = np.take(table, idx, axis=0)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_gather_rows_takes_every_int64_descriptor():
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    idx = np.array([3, -1], np.longlong)  # int64 under another dtype descriptor on Linux
    np.testing.assert_array_equal(kernels.gather_rows(table, idx), table[[3, -1]])


def test_gather_rows_rejects_bad_input():
    table = np.ones((5, 4), np.float32)
    for bad in (5, -6):
        with pytest.raises(IndexError, match=f"index {bad} is out of bounds for axis 0 with size 5"):
            kernels.gather_rows(table, np.array([0, bad]))
    with pytest.raises(TypeError, match="int32 or int64"):
        kernels.gather_rows(table, np.array([0.0]))
    with pytest.raises(ValueError, match="C-contiguous"):
        kernels.gather_rows(np.asfortranarray(np.ones((5, 4), np.float32)), np.array([0]))
    with pytest.raises(ValueError, match="at least 1-D"):
        kernels.gather_rows(np.array(1.0, np.float32), np.array([0]))


def test_add_matches_numpy():
    rng = np.random.default_rng(1)
    for shape in ((3, 100_001), (1, 128, 768), (5,), (0, 3)):
        a, b = rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)
        got = kernels.add(a, b)
        assert got.dtype == np.float32 and got.shape == shape
        np.testing.assert_array_equal(got, a + b)
    with pytest.raises(ValueError, match="shapes differ"):
        kernels.add(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match="float32"):
        kernels.add(np.ones(3), np.ones(3))
