"""ConvOp: a PackedConv bound at plan time gives conv2d's results, and None (never a wrong answer
or a crash) for activations that do not fit, so the caller's checked path can word the error."""
import numpy as np
import pytest

from sparse_runtime import kernels

RNG = np.random.default_rng(4)


def _op(fmt="dense", x_blocked=False, y_blocked=False, act="relu", cin=40, cout=48, groups=1):
    w = RNG.standard_normal((cout, cin // groups * 9)).astype(np.float32)
    cog = cout // groups
    mats = [kernels.pack(w[g * cog:(g + 1) * cog], fmt) for g in range(groups)]
    bias = RNG.standard_normal(cout).astype(np.float32)
    op = kernels.ConvOp(mats, bias, act, 3, 3, [2, 1], [1, 1, 0, 2], [1, 1], x_blocked, y_blocked)
    ref = lambda x, r=None: kernels.conv2d(mats, x, bias, (3, 3), (2, 1), (1, 1, 0, 2), (1, 1), act, residual=r,
                                           x_blocked=x_blocked, y_blocked=y_blocked)
    return op, ref


@pytest.mark.parametrize("fmt,groups", [("dense", 1), ("csr", 1), ("dense", 2)])
@pytest.mark.parametrize("x_blocked,y_blocked", [(False, False), (True, False), (False, True), (True, True)])
def test_conv_op_matches_conv2d(fmt, groups, x_blocked, y_blocked):
    op, ref = _op(fmt, x_blocked, y_blocked, groups=groups)
    x = RNG.standard_normal((2, 40, 9, 10)).astype(np.float32)
    xin = kernels.to_blocked(x) if x_blocked else x
    want = ref(xin)
    got = op.run(xin)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    r = RNG.standard_normal(want.shape).astype(np.float32)
    np.testing.assert_array_equal(op.run(xin, r), ref(xin, r))


def test_conv_op_declines_what_does_not_fit():
    op, _ = _op()
    x = RNG.standard_normal((1, 40, 9, 10)).astype(np.float32)
    y = op.run(x)
    assert y.shape == (1, 48, 4, 11)
    assert op.run(x.astype(np.float64)) is None
    assert op.run(x[:, :39].copy()) is None  # channels
    assert op.run(np.asfortranarray(x)) is None
    assert op.run(x[0]) is None  # rank
    assert op.run(x, np.ones((1, 48, 4, 1), np.float32)) is None  # a residual that would broadcast
    assert op.run(x, np.ones(y.shape, np.float64)) is None
    assert op.run([1, 2]) is None
    blocked, _ = _op(x_blocked=True)
    assert blocked.run(x) is None  # NCHW for a blocked input
    assert blocked.run(np.ones((1, 1, 9, 10, 32), np.float32)) is None  # 40 channels are 2 blocks
    assert blocked.run(np.ones((1, 2, 9, 10, 16), np.float32)) is None
    assert blocked.run(np.ones((1, 2, 9, 10, 32), np.float32)).shape == (1, 48, 4, 11)


def test_conv_op_rejects_bad_geometry():
    mats = [kernels.pack(np.ones((8, 27), np.float32), "dense")]
    with pytest.raises(ValueError, match="stride"):
        kernels.ConvOp(mats, None, "none", 3, 3, [0, 1], [0, 0, 0, 0], [1, 1])
    with pytest.raises(ValueError, match="pads 4"):
        kernels.ConvOp(mats, None, "none", 3, 3, [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="bias"):
        kernels.ConvOp(mats, np.ones(3, np.float32), "none", 3, 3, [1, 1], [0, 0, 0, 0], [1, 1])
    with pytest.raises(ValueError, match="no weight groups"):
        kernels.ConvOp([], None, "none", 3, 3, [1, 1], [0, 0, 0, 0], [1, 1])
    with pytest.raises(ValueError, match="activation|act"):
        kernels.ConvOp(mats, None, "swish", 3, 3, [1, 1], [0, 0, 0, 0], [1, 1])
