"""CNN ops: Conv, pooling, normalisation, LRN, DepthToSpace/SpaceToDepth."""
import numpy as np
import pytest

from opcheck import check, rand, run_ours

F32 = np.float32

CONV_CASES = [
    # x shape, w shape, attrs
    ((1, 3, 7, 7), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    ((1, 4, 8, 8), (6, 2, 3, 3), {"group": 2, "dilations": [2, 1], "pads": [1, 1, 1, 1]}),
    ((1, 4, 9, 9), (4, 1, 3, 3), {"group": 4, "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 8, 7), (3, 2, 2, 3), {"strides": [3, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 8, 7), (3, 2, 3, 3), {"strides": [2, 2], "auto_pad": "VALID"}),
    ((2, 3, 10), (4, 3, 3), {"pads": [1, 2], "strides": [2], "dilations": [2]}),
    ((1, 2, 5, 4, 4), (3, 2, 3, 2, 2), {"pads": [1, 0, 0, 1, 1, 1]}),
    ((1, 3, 4, 4), (5, 3, 1, 1), {"kernel_shape": [1, 1]}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv(xs, ws, attrs, bias):
    inputs = [rand(xs), rand(ws, seed=1)] + ([rand((ws[0],), seed=2)] if bias else [])
    check("Conv", inputs, attrs, opset=11)


def test_conv_f64():
    check("Conv", [rand((1, 2, 5, 5), np.float64), rand((2, 2, 3, 3), np.float64, seed=1)], {"pads": [1, 1, 1, 1]})


POOL_CASES = [
    ((1, 2, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}),
    ((1, 2, 7, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    ((1, 2, 7, 8), {"kernel_shape": [3, 2], "strides": [2, 3], "ceil_mode": 1}),
    ((1, 2, 6, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    ((2, 3, 7, 7), {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((1, 1, 7, 7), {"kernel_shape": [2, 3], "auto_pad": "SAME_LOWER"}),
    ((1, 1, 7, 7), {"kernel_shape": [2, 2], "auto_pad": "VALID", "strides": [2, 2]}),
    ((1, 2, 9), {"kernel_shape": [3], "strides": [2], "pads": [1, 2]}),
    ((1, 2, 4, 5, 5), {"kernel_shape": [2, 2, 3], "strides": [1, 2, 2]}),
]


@pytest.mark.parametrize("xs,attrs", POOL_CASES)
def test_max_pool(xs, attrs):
    check("MaxPool", [rand(xs)], attrs, opset=12)


@pytest.mark.parametrize("xs,attrs", POOL_CASES[:5])
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_indices(xs, attrs, storage_order):
    check("MaxPool", [rand(xs)], dict(attrs, storage_order=storage_order), n_outputs=2, opset=12)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # raised inside onnx.reference
def test_max_pool_dilations_int():
    check("MaxPool", [rand((1, 2, 8, 8))], {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 1, 1]},
          opset=12)
    check("MaxPool", [rand((1, 2, 6, 6), np.uint8, low=0, high=200)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
          opset=12)


@pytest.mark.parametrize("xs,attrs", POOL_CASES)
@pytest.mark.parametrize("include_pad", [0, 1])
def test_average_pool(xs, attrs, include_pad):
    # ORT is the reference here: onnx.reference counts ceil_mode overhang / SAME padding differently
    ref = "ort" if attrs.get("ceil_mode") or include_pad and "auto_pad" in attrs else "onnx"
    check("AveragePool", [rand(xs)], dict(attrs, count_include_pad=include_pad), opset=11, ref=ref)


def test_lp_pool():
    check("LpPool", [rand((1, 2, 6, 6))], {"kernel_shape": [2, 2], "strides": [2, 2], "p": 2}, opset=11)
    check("LpPool", [rand((1, 2, 6, 6))], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "p": 1}, opset=11)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 7), (1, 2, 2, 3, 3)])
def test_global_pool(op, shape):
    # onnx.reference lacks GlobalLpPool and gets GlobalMaxPool wrong off 4-D
    check(op, [rand(shape)], ref="onnx" if op == "GlobalAveragePool" else "ort")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3), (1, 3, 5)])
@pytest.mark.parametrize("opset", [9, 15])
def test_batch_norm(shape, opset):
    c = shape[1]
    inputs = [rand(shape), rand((c,), seed=1), rand((c,), seed=2), rand((c,), seed=3),
              rand((c,), seed=4, low=0.1, high=2)]
    # onnx.reference's opset-9 BatchNormalization runs in training mode; ORT is the reference
    check("BatchNormalization", inputs, {"epsilon": 1e-3}, opset=opset, ref="ort" if opset < 14 else "onnx")


def test_batch_norm_legacy_attrs():
    c = 3
    inputs = [rand((2, c, 4, 4)), rand((c,), seed=1), rand((c,), seed=2), rand((c,), seed=3),
              rand((c,), seed=4, low=0.1, high=2)]
    (got,) = run_ours("BatchNormalization", inputs, {"is_test": 1, "spatial": 1, "consumed_inputs": [0, 0, 0, 1, 1]},
                      opset=6)
    (want,) = run_ours("BatchNormalization", inputs, {}, opset=15)
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn(size):
    # onnx.reference's LRN loops over the batch axis instead of channels: compare with ORT
    check("LRN", [rand((2, 6, 3, 3))], {"size": size, "alpha": 1e-3, "beta": 0.75, "bias": 2.0}, ref="ort")


@pytest.mark.parametrize("size", [2, 4])
def test_lrn_even_size_3d(size):
    # ORT only takes odd sizes on 4-D input: check the spec formula directly
    x = rand((2, 5, 3), np.float64)
    (y,) = run_ours("LRN", [x], {"size": size, "alpha": 0.125, "beta": 0.5, "bias": 1.5})  # exact in fp32
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = np.stack([np.sum(x[:, max(0, c - lo):c + hi + 1] ** 2, axis=1) for c in range(5)], axis=1)
    np.testing.assert_allclose(y, x / (1.5 + 0.125 / size * sq) ** 0.5, rtol=1e-12)


def test_instance_norm():
    check("InstanceNormalization", [rand((2, 3, 4, 5)), rand((3,), seed=1), rand((3,), seed=2)],
          {"epsilon": 1e-3})
    check("InstanceNormalization", [rand((2, 3, 6)), rand((3,), seed=1), rand((3,), seed=2)])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(mode):
    check("DepthToSpace", [rand((2, 8, 3, 4))], {"blocksize": 2, "mode": mode}, opset=13)


def test_space_to_depth():
    check("SpaceToDepth", [rand((2, 3, 4, 6))], {"blocksize": 2})


CONV_T_CASES = [
    ((1, 2, 3, 3), (2, 3, 3, 3), {}),
    ((2, 2, 3, 4), (2, 2, 3, 2), {"strides": [2, 3], "pads": [1, 0, 0, 1]}),
    ((1, 4, 3, 3), (4, 1, 3, 3), {"group": 2, "strides": [2, 2], "output_padding": [1, 0]}),
    ((1, 2, 3, 3), (2, 2, 2, 2), {"dilations": [2, 1], "strides": [2, 2]}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"strides": [2, 2], "output_shape": [7, 8]}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((1, 2, 3, 3), (2, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((1, 2, 5), (2, 3, 3), {"strides": [3], "pads": [1, 2]}),
    ((1, 1, 2, 2, 2), (1, 2, 2, 2, 2), {"strides": [2, 1, 2]}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_T_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv_transpose(xs, ws, attrs, bias):
    m = ws[1] * attrs.get("group", 1)
    inputs = [rand(xs), rand(ws, seed=1)] + ([rand((m,), seed=2)] if bias else [])
    # ORT is the reference where onnx.reference splits SAME_* padding the other way or fails on groups
    ref = "ort" if "auto_pad" in attrs or "group" in attrs else "onnx"
    check("ConvTranspose", inputs, attrs, opset=11, ref=ref)
