"""Native 2-D max pooling against a direct numpy loop: strides 1/2/3, pads, dilations, windows
hanging past the image (ceil_mode sizes), NaNs in windows, and its argument checks, on every ISA
the machine has (the passes are the ISA's kernels)."""
import numpy as np
import pytest

from sparse_runtime import _native, kernels


def reference(x, ks, strides, pads, dil, out):
    n, c, h, w = x.shape
    y = np.full((n, c) + tuple(out), -np.inf, np.float32)
    for oh in range(out[0]):
        for ow in range(out[1]):
            for i in range(ks[0]):
                for j in range(ks[1]):
                    ih, iw = oh * strides[0] - pads[0] + i * dil[0], ow * strides[1] - pads[1] + j * dil[1]
                    if 0 <= ih < h and 0 <= iw < w:
                        # np.maximum keeps a NaN from either side, wherever it is in the window
                        y[:, :, oh, ow] = np.maximum(y[:, :, oh, ow], x[:, :, ih, iw])
    return y


# (input hw, kernel, strides, pads (top, left), dilations, output hw)
CASES = [((112, 112), (3, 3), (2, 2), (1, 1), (1, 1), (56, 56)),  # ResNet's stem pool
         ((7, 9), (2, 2), (1, 1), (0, 0), (1, 1), (6, 8)),
         ((10, 11), (3, 2), (3, 2), (1, 0), (1, 1), (4, 6)),  # ceil_mode: the last window hangs off
         ((9, 9), (3, 3), (1, 1), (2, 2), (2, 2), (9, 9)),  # dilated, padded "same"
         ((5, 4), (5, 4), (1, 1), (0, 0), (1, 1), (1, 1)),
         ((15, 21), (3, 3), (2, 2), (1, 1), (2, 2), (7, 10))]  # stride 2 and dilated taps


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("hw,ks,strides,pads,dil,out", CASES, ids=str)
def test_maxpool_matches_loop(isa, hw, ks, strides, pads, dil, out):
    x = np.random.default_rng(0).standard_normal((2, 3) + hw).astype(np.float32)
    with kernels.force_isa(isa):
        got = kernels.maxpool2d(x, ks, strides, pads, dil, out)
    assert got.shape == (2, 3) + out and got.dtype == np.float32
    np.testing.assert_array_equal(got, reference(x, ks, strides, pads, dil, out))


@pytest.mark.parametrize("isa", kernels.supported_isas())
def test_maxpool_keeps_nan_like_numpy(isa):
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 2] = np.nan
    with kernels.force_isa(isa):
        got = kernels.maxpool2d(x, (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
    assert np.isnan(got[0, 0, 0, 1]) and np.count_nonzero(np.isnan(got)) == 1


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("strides", [(1, 1), (2, 2), (1, 3)], ids=str)
def test_maxpool_nan_on_vector_lanes(isa, strides):
    """NaNs in wide rows, first and later in a window, against -inf and large values: the
    vectorised row and column passes keep a NaN whichever side of the max it comes from."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 13, 67)).astype(np.float32)
    x[rng.random(x.shape) < 0.02] = np.nan
    x[rng.random(x.shape) < 0.02] = -np.inf
    x[0, 1, :, 40] = np.nan  # a whole column: every window over it
    x[1, 2, 6, :] = np.nan  # a whole row
    out = tuple((n + 2 - 3) // s + 1 for n, s in zip((13, 67), strides))
    with kernels.force_isa(isa):
        got = kernels.maxpool2d(x, (3, 3), strides, (1, 1), (1, 1), out)
        blocked = kernels.from_blocked(
            kernels.maxpool2d(kernels.to_blocked(x), (3, 3), strides, (1, 1), (1, 1), out, blocked=True), 4)
    want = reference(x, (3, 3), strides, (1, 1), (1, 1), out)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(blocked, want)


def test_native_maxpool_checks_its_inputs():
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match="float32"):
        _native.maxpool2d(x.astype(np.float64), 2, 2, [1, 1], [0, 0], [1, 1], 3, 3)
    with pytest.raises(ValueError, match="4-D"):
        _native.maxpool2d(x[0], 2, 2, [1, 1], [0, 0], [1, 1], 3, 3)
    with pytest.raises(ValueError, match="positive"):
        _native.maxpool2d(x, 2, 2, [0, 1], [0, 0], [1, 1], 3, 3)
    with pytest.raises(ValueError, match="2 values"):
        _native.maxpool2d(x, 2, 2, [1], [0, 0], [1, 1], 3, 3)
