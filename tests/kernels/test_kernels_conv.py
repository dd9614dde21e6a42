"""Native conv2d (direct 1x1 and im2col paths) against onnx.reference, every format and ISA."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import kernels
from kernel_oracle import activate, assert_close

CONVS = [
    # (batch, cin, h, w, cout, kh, kw, stride, pads (t,l,b,r), dilation, group)
    (1, 16, 9, 9, 24, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 8, 11, 7, 16, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 8, 13, 13, 16, 3, 3, (2, 2), (1, 0, 1, 2), (1, 1), 1),
    (1, 12, 10, 10, 12, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 3),
    (1, 8, 8, 8, 8, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 8),  # depthwise
    (1, 3, 17, 17, 16, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1), 1),
    (1, 16, 6, 6, 8, 1, 1, (2, 2), (0, 0, 0, 0), (1, 1), 1),
    # Stride 1, dense weights: implicit GEMM over the padded input (conv.cc, ShiftedB), with
    # several column tiles and two k blocks (k = 864), outputs over two panels, the last partial.
    (1, 96, 20, 30, 40, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 5, 9, 14, 40, 3, 3, (1, 1), (0, 2, 1, 0), (1, 1), 1),  # uneven pads
    (2, 6, 12, 10, 8, 5, 5, (1, 1), (2, 2, 2, 2), (1, 1), 2),  # 5x5, groups, batch 2
    (1, 4, 10, 10, 8, 3, 2, (1, 1), (0, 0, 0, 0), (2, 1), 1),  # no pads, dilated rows only
    (1, 4, 7, 7, 8, 3, 3, (1, 1), (3, 3, 3, 3), (1, 1), 1),  # pads wider than the taps
    # Strided: the input split into stride_h x stride_w phase planes (conv_phases.h).
    (1, 6, 15, 17, 36, 3, 3, (2, 3), (1, 2, 0, 1), (2, 1), 1),
    (2, 4, 9, 10, 8, 5, 5, (3, 2), (2, 2, 2, 2), (1, 1), 2),
]


def reference_conv(x, w, b, stride, pads, dilation, group):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=list(stride), pads=list(pads),
                            dilations=list(dilation), group=group)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("x", "w", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return ReferenceEvaluator(model).run(None, {"x": x, "w": w, "b": b})[0]


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("spec", CONVS, ids=lambda s: "x".join(map(str, s[:7])) + f"-g{s[-1]}")
def test_conv2d_matches_reference(isa, spec):
    batch, cin, h, w_, cout, kh, kw, stride, pads, dilation, group = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, cin, h, w_)).astype(np.float32)
    w = rng.standard_normal((cout, cin // group, kh, kw)).astype(np.float32)
    w[rng.random(w.shape) < 0.6] = 0
    b = rng.standard_normal(cout).astype(np.float32)
    want = reference_conv(x, w, b, stride, pads, dilation, group).astype(np.float64)
    cog = cout // group
    with kernels.force_isa(isa):
        for fmt in ("dense", "csr", "bsr4x1"):
            mats = [kernels.pack(w[g * cog:(g + 1) * cog].reshape(cog, -1), fmt) for g in range(group)]
            got = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation)
            assert_close(got, want, f"{isa}/{fmt}")
            relu = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, "relu")
            assert_close(relu, np.maximum(want, 0), f"{isa}/{fmt}/relu")


def test_conv2d_rejects_bad_shapes():
    mats = [kernels.pack(np.ones((4, 27), np.float32), "csr")]
    x = np.ones((1, 3, 8, 8), np.float32)
    kernels.conv2d(mats, x, None, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="weight group 0"):
        kernels.conv2d(mats, np.ones((1, 4, 8, 8), np.float32), None, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="larger than the padded input"):
        kernels.conv2d(mats, np.ones((1, 3, 2, 2), np.float32), None, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="stride"):
        kernels.conv2d(mats, x, None, (3, 3), (0, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="pad"):
        kernels.conv2d(mats, x, None, (3, 3), (1, 1), (-1, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="bias"):
        kernels.conv2d(mats, x, np.ones(3, np.float32), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("spec", [CONVS[0], CONVS[2], CONVS[4], CONVS[7], CONVS[8]],
                         ids=["1x1", "3x3s2", "depthwise", "3x3s1", "3x3s1-uneven-pads"])
def test_conv2d_residual_then_relu(isa, spec):
    batch, cin, h, w_, cout, kh, kw, stride, pads, dilation, group = spec
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, cin, h, w_)).astype(np.float32)
    w = rng.standard_normal((cout, cin // group, kh, kw)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    plain = reference_conv(x, w, b, stride, pads, dilation, group).astype(np.float64)
    r = rng.standard_normal(plain.shape).astype(np.float32)
    cog = cout // group
    with kernels.force_isa(isa):
        for fmt in ("dense", "csr"):
            mats = [kernels.pack(w[g * cog:(g + 1) * cog].reshape(cog, -1), fmt) for g in range(group)]
            got = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, "relu", residual=r)
            assert_close(got, np.maximum(plain + r, 0), f"{isa}/{fmt}")
            summed = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, residual=r)
            assert_close(summed, plain + r, f"{isa}/{fmt}/no activation")


# Sparse weights over phase planes (conv.cc, spmm.cc run_task_sparse_shifted): each task copies a
# 64-column tile of virtual columns (pixels plus the padding columns between rows) and writes only
# the real pixels back. The shapes put tile edges mid-row and across rows (20x30, 9x25), share one
# tile among several row chunks (96 outputs on a 5x5 plane), and give several problems (batch 2,
# groups 2), with stride 2 and dilation through the phase planes.
SPARSE_IMPLICIT = [
    # (batch, cin, h, w, cout, kh, kw, stride, pads (t,l,b,r), dilation, group)
    (1, 16, 20, 30, 24, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (2, 8, 9, 25, 16, 3, 3, (1, 1), (1, 2, 1, 0), (1, 1), 2),
    (1, 32, 5, 5, 96, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 12, 17, 19, 20, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 1),
    (1, 8, 14, 14, 12, 3, 3, (1, 1), (2, 2, 2, 2), (2, 2), 1),
]


def sparse_weight(rng, shape, fmt):
    """Mostly-zero weights that `fmt` can hold: 2:4 groups for nm24, 4x1 blocks for bsr4x1."""
    w = rng.standard_normal(shape).astype(np.float32)
    flat = w.reshape(shape[0], -1)
    if fmt == "nm24":
        groups = flat.reshape(shape[0], -1, 4)
        order = rng.random(groups.shape).argsort(axis=-1)
        groups[order >= 2] = 0  # two of each four kept
        groups[rng.random(groups.shape) < 0.5] = 0
    elif fmt == "bsr4x1":
        keep = rng.random((-(-shape[0] // 4), flat.shape[1])) >= 0.8
        flat *= np.repeat(keep, 4, axis=0)[:shape[0]]
    else:
        flat[rng.random(flat.shape) < 0.85] = 0
    return w


@pytest.mark.parametrize("isa", kernels.supported_isas())
@pytest.mark.parametrize("fmt", ["csr", "bsr4x1", "bsr1x4", "nm24"])
@pytest.mark.parametrize("spec", SPARSE_IMPLICIT, ids=lambda s: "x".join(map(str, s[:7])) + f"-g{s[-1]}")
def test_sparse_conv_over_phase_planes(isa, fmt, spec):
    batch, cin, h, w_, cout, kh, kw, stride, pads, dilation, group = spec
    rng = np.random.default_rng(7)
    x = rng.standard_normal((batch, cin, h, w_)).astype(np.float32)
    w = sparse_weight(rng, (cout, cin // group, kh, kw), fmt)
    b = rng.standard_normal(cout).astype(np.float32)
    plain = reference_conv(x, w, b, stride, pads, dilation, group).astype(np.float64)
    r = rng.standard_normal(plain.shape).astype(np.float32)
    cog = cout // group
    with kernels.force_isa(isa):
        mats = [kernels.pack(w[g * cog:(g + 1) * cog].reshape(cog, -1), fmt) for g in range(group)]
        assert all(m.format == fmt for m in mats)
        for act in ("none", "relu", "gelu_erf"):
            got = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, act)
            assert_close(got, activate(plain, act), f"{isa}/{fmt}/{act}")
            got = kernels.conv2d(mats, x, b, (kh, kw), stride, pads, dilation, act, residual=r)
            assert_close(got, activate(plain + r, act), f"{isa}/{fmt}/{act}/residual")


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sparse_conv_reads_each_calls_input(threads):
    """A thread keeps its last copied tile for its next task of the same call only: calls with new
    inputs of the same shape, one after the other, each get their own answer."""
    rng = np.random.default_rng(8)
    w = sparse_weight(rng, (64, 32, 3, 3), "csr")
    mat = [kernels.pack(w.reshape(64, -1), "csr")]
    with kernels.num_threads(threads):
        for _ in range(3):
            x = rng.standard_normal((1, 32, 6, 7)).astype(np.float32)
            got = kernels.conv2d(mat, x, None, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
            assert_close(got, reference_conv(x, w, np.zeros(64, np.float32), (1, 1), (1, 1, 1, 1), (1, 1), 1)
                         .astype(np.float64), f"{threads} threads")
