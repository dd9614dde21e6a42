"""Native batched matmul (activation x activation) against numpy, with broadcasting, every ISA."""
import numpy as np
import pytest

from sparse_runtime import kernels
from kernel_oracle import assert_close

SHAPES = [
    ((12, 128, 64), (12, 64, 128)),  # attention scores
    ((1, 12, 128, 128), (1, 12, 128, 64)),  # attention x values
    ((5, 7), (7, 9)),
    ((3, 1, 5, 7), (4, 7, 9)),  # partial broadcasting
    ((2, 3, 17, 8), (8, 33)),  # one shared right operand
    ((1, 1), (1, 1)),
    ((4, 9, 1), (4, 1, 13)),  # K = 1
]


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("sa,sb", SHAPES, ids=str)
def test_matmul_matches_numpy(isa, sa, sb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    with kernels.force_isa(isa):
        got = kernels.matmul(a, b)
    assert_close(got, np.matmul(a.astype(np.float64), b), f"{isa} {sa} @ {sb}")


def test_matmul_accepts_views_and_rejects_bad_shapes():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 6, 8)).astype(np.float32).transpose(0, 2, 1)  # non-contiguous view
    b = rng.standard_normal((4, 6, 5)).astype(np.float32)
    assert_close(kernels.matmul(a, b), np.matmul(a.astype(np.float64), b), "view")
    with pytest.raises(ValueError):
        kernels.matmul(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="inner"):
        from sparse_runtime import _native
        _native.matmul(np.ones((3, 4), np.float32), np.ones((5, 6), np.float32))
