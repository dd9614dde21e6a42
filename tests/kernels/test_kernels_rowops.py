"""Native softmax and layer normalisation against float64 numpy, every ISA, ragged row widths."""
import numpy as np
import pytest

from sparse_runtime import kernels
from kernel_oracle import assert_close

SHAPES = [(3, 7), (12, 128, 128), (1, 128, 768), (5, 33), (2, 1), (4, 16)]


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_softmax(isa, shape):
    x = (np.random.default_rng(0).standard_normal(shape) * 8).astype(np.float32)
    xd = x.astype(np.float64)
    e = np.exp(xd - xd.max(-1, keepdims=True))
    with kernels.force_isa(isa):
        assert_close(kernels.softmax(x), e / e.sum(-1, keepdims=True), f"{isa} {shape}")


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(isa, shape, affine):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)  # offset: checks no cancellation
    g = rng.standard_normal(shape[-1]).astype(np.float32) if affine else None
    b = rng.standard_normal(shape[-1]).astype(np.float32) if affine else None
    xd = x.astype(np.float64)
    m = xd.mean(-1, keepdims=True)
    want = (xd - m) / np.sqrt(((xd - m) ** 2).mean(-1, keepdims=True) + 1e-5)
    if affine:
        want = want * g + b
    with kernels.force_isa(isa):
        got = kernels.layernorm(x, g, b, 1e-5)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_rowops_check_their_inputs():
    with pytest.raises(TypeError, match="float32"):
        kernels.softmax(np.ones((2, 3)))
    with pytest.raises(ValueError, match="scale"):
        kernels.layernorm(np.ones((2, 3), np.float32), np.ones(4, np.float32), None, 1e-5)
