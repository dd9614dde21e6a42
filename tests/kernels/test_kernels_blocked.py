"""Blocked activations ([N, ceil(C/32), H, W, 32]): layout conversions, conv2d with blocked input
and/or output (every ISA, weights dense and not), and blocked max pooling, against NCHW oracles."""
import numpy as np
import pytest

from sparse_runtime import kernels
from kernel_oracle import assert_close
from test_kernels_conv import CONVS, reference_conv

LAYOUTS = [(True, False), (False, True), (True, True)]  # (x_blocked, y_blocked)


def blocked_oracle(x):
    """to_blocked in numpy: pad channels to a multiple of 32 with zeros, then move them last."""
    n, c, h, w = x.shape
    blocks = -(-c // 32)
    padded = np.zeros((n, blocks * 32, h, w), x.dtype)
    padded[:, :c] = x
    return padded.reshape(n, blocks, 32, h, w).transpose(0, 1, 3, 4, 2).copy()


@pytest.mark.parametrize("shape", [(1, 32, 4, 4), (2, 70, 9, 11), (1, 5, 1, 1), (1, 64, 33, 35), (3, 1, 2, 3)])
def test_to_blocked_and_back(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    b = kernels.to_blocked(x)
    assert b.shape == (shape[0], -(-shape[1] // 32), shape[2], shape[3], 32) and b.dtype == np.float32
    np.testing.assert_array_equal(b, blocked_oracle(x))  # padding channels included: zeros
    back = kernels.from_blocked(b, shape[1])
    assert back.shape == shape and back.dtype == np.float32
    np.testing.assert_array_equal(back, x)


def test_blocked_conversions_reject_bad_input():
    with pytest.raises(ValueError, match="4-D"):
        kernels.to_blocked(np.ones((2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="float32"):
        kernels.to_blocked(np.ones((1, 3, 4, 4), np.float64))
    with pytest.raises(ValueError, match="channel blocks"):
        kernels.from_blocked(np.ones((1, 2, 4, 4, 32), np.float32), 70)
    with pytest.raises(ValueError, match="channels per block"):
        kernels.from_blocked(np.ones((1, 1, 4, 4, 16), np.float32), 16)


def _weights(spec, fmt, rng):
    batch, cin, h, w_, cout, kh, kw, stride, pads, dilation, group = spec
    w = rng.standard_normal((cout, cin // group, kh, kw)).astype(np.float32)
    if fmt != "dense":
        w[rng.random(w.shape) < 0.6] = 0
    cog = cout // group
    return w, [kernels.pack(w[g * cog:(g + 1) * cog].reshape(cog, -1), fmt) for g in range(group)]


# Every conv shape of the NCHW tests, plus ResNet-like ones: a 1x1 read in place across two
# channel blocks, k over 768 (two k blocks) with a partial last output panel, a strided 1x1, a 3x3
# whose tasks are whole 14-pixel rows (4 a task, the last task 2) over two full panels, and one
# whose rows (70 pixels) are wider than a task, so tasks start mid-row.
BLOCKED_CONVS = CONVS + [
    (1, 64, 14, 14, 96, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 800, 5, 6, 40, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (1, 48, 9, 9, 64, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1),
    (1, 40, 14, 14, 64, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 8, 5, 70, 32, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
]


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("spec", BLOCKED_CONVS, ids=lambda s: "x".join(map(str, s[:7])) + f"-g{s[-1]}")
def test_conv2d_blocked_layouts_match_reference(isa, spec):
    batch, cin, h, w_, cout, kh, kw, stride, pads, dilation, group = spec
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, cin, h, w_)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    # Dense with one group takes the blocked kernels; the rest goes through NCHW inside conv2d.
    formats = ("dense", "csr") if group == 1 else ("dense",)
    with kernels.force_isa(isa):
        for fmt in formats:
            w, mats = _weights(spec, fmt, rng)
            plain = reference_conv(x, w, b, stride, pads, dilation, group).astype(np.float64)
            r = rng.standard_normal(plain.shape).astype(np.float32)
            for x_blocked, y_blocked in LAYOUTS:
                xin = kernels.to_blocked(x) if x_blocked else x
                rin = kernels.to_blocked(r) if y_blocked else r
                for act, residual, want in (("none", None, plain), ("relu", None, np.maximum(plain, 0)),
                                            ("relu", rin, np.maximum(plain + r, 0)), ("none", rin, plain + r),
                                            ("gelu_erf", rin, None)):
                    got = kernels.conv2d(mats, xin, b, (kh, kw), stride, pads, dilation, act, residual=residual,
                                         x_blocked=x_blocked, y_blocked=y_blocked)
                    assert got.dtype == np.float32
                    if y_blocked:
                        assert got.shape == (batch, -(-cout // 32)) + plain.shape[2:] + (32,)
                        pad_lanes = got[:, -1, ..., cout % 32:] if cout % 32 else got[:, :0]
                        assert not pad_lanes.any(), "padding channels must stay zero"
                        got = kernels.from_blocked(got, cout)
                    else:
                        assert got.shape == plain.shape
                    if want is None:  # GELU after the residual: compare with the NCHW kernel
                        want = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, act, residual=r)
                    assert_close(got, want, f"{isa}/{fmt}/x{int(x_blocked)}y{int(y_blocked)}/{act}"
                                            f"{'/residual' if residual is not None else ''}")


def test_conv2d_blocked_rejects_bad_shapes():
    mats = [kernels.pack(np.ones((40, 70 * 9), np.float32), "dense")]
    x = kernels.to_blocked(np.ones((1, 70, 8, 8), np.float32))
    y = kernels.conv2d(mats, x, None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), x_blocked=True, y_blocked=True)
    assert y.shape == (1, 2, 8, 8, 32)
    with pytest.raises(ValueError, match=r"expected blocked shape \(N, 3, H, W, 32\) for 70 channels"):
        kernels.conv2d(mats, x[:, :2].copy(), None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), x_blocked=True)
    with pytest.raises(ValueError, match="5-D"):
        kernels.conv2d(mats, np.ones((1, 70, 8, 8), np.float32), None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1),
                       x_blocked=True)
    with pytest.raises(ValueError, match="expected blocked shape"):
        kernels.conv2d(mats, np.ones((1, 3, 8, 8, 16), np.float32), None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1),
                       x_blocked=True)
    with pytest.raises(ValueError, match="residual"):  # NCHW residual for a blocked output
        kernels.conv2d(mats, x, None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), residual=np.ones((1, 40, 8, 8), np.float32),
                       x_blocked=True, y_blocked=True)


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("geometry", [((3, 3), (2, 2), (1, 1), (1, 1)), ((2, 2), (2, 2), (0, 0), (1, 1)),
                                      ((3, 2), (1, 2), (2, 0), (2, 1))], ids=["3x3s2p1", "2x2s2", "dilated"])
def test_maxpool2d_blocked_matches_nchw(isa, geometry):
    ks, strides, pads, dil = geometry
    x = np.random.default_rng(2).standard_normal((2, 40, 11, 12)).astype(np.float32)
    x[0, 3, 4, 5] = np.nan  # a NaN in a window wins, as in the NCHW kernel
    out = tuple((n + 2 * p - (k - 1) * d - 1) // s + 1 for n, k, s, p, d in zip((11, 12), ks, strides, pads, dil))
    with kernels.force_isa(isa):
        want = kernels.maxpool2d(x, ks, strides, pads, dil, out)
        got = kernels.maxpool2d(kernels.to_blocked(x), ks, strides, pads, dil, out, blocked=True)
    assert got.shape == (2, 2) + out + (32,) and got.dtype == np.float32
    np.testing.assert_array_equal(kernels.from_blocked(got, 40), want)
    with kernels.force_isa(isa):  # blocked in, NCHW out: 40 channels, the second block partial
        nchw = kernels.maxpool2d(kernels.to_blocked(x), ks, strides, pads, dil, out, blocked=True, nchw_channels=40)
    assert nchw.shape == (2, 40) + out and nchw.dtype == np.float32
    np.testing.assert_array_equal(nchw, want)


def test_maxpool2d_nchw_channels_checks():
    xb = kernels.to_blocked(np.ones((1, 40, 6, 6), np.float32))
    with pytest.raises(ValueError, match="channel blocks"):
        kernels.maxpool2d(xb, (2, 2), (2, 2), (0, 0), (1, 1), (3, 3), blocked=True, nchw_channels=70)
    with pytest.raises(ValueError, match="nchw_channels is for a blocked input"):
        kernels.maxpool2d(np.ones((1, 4, 6, 6), np.float32), (2, 2), (2, 2), (0, 0), (1, 1), (3, 3), nchw_channels=4)


@pytest.mark.filterwarnings("ignore:Mean of empty slice")
@pytest.mark.parametrize("shape", [(2, 70, 7, 7), (1, 2048, 7, 7), (1, 3, 1, 1), (2, 33, 112, 97), (1, 5, 0, 4)], ids=str)
def test_global_average_pool_nchw_and_blocked(shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN for an empty plane, as numpy
        want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    for got in (kernels.global_average_pool(x),
                kernels.global_average_pool(kernels.to_blocked(x), blocked=True, channels=shape[1])):
        assert got.shape == shape[:2] + (1, 1) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="channel blocks"):
        kernels.global_average_pool(kernels.to_blocked(x), blocked=True, channels=shape[1] + 32)


def test_global_average_pool_large_plane_keeps_float32_accuracy():
    # 262144 positive values: a float32 running sum would drift by ~1e-4 relative
    x = np.random.default_rng(4).random((1, 40, 512, 512)).astype(np.float32)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=True)
    for got in (kernels.global_average_pool(x), kernels.global_average_pool(kernels.to_blocked(x), True, 40)):
        np.testing.assert_allclose(got, want, rtol=2e-7)
