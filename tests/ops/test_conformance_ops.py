"""Ops added for the ONNX conformance suite, each checked against onnx.reference."""
import numpy as np
import pytest

from opcheck import check, rand, run_ours

F32, I64 = np.float32, np.int64


@pytest.mark.parametrize("attrs,extra", [
    ({}, {}),
    ({"is_causal": 1}, {}),
    ({"softcap": 2.0, "scale": 0.3}, {}),
    ({"qk_matmul_output_mode": 2}, {"mask": "float"}),
    ({"qk_matmul_output_mode": 3}, {"mask": "bool"}),
    ({}, {"past": True}),
    ({"is_causal": 1}, {"past": True, "gqa": True}),
])
def test_attention_4d(attrs, extra):
    hq, hk = (4, 2) if extra.get("gqa") else (2, 2)
    q, k, v = rand((2, hq, 3, 8), seed=1), rand((2, hk, 5, 8), seed=2), rand((2, hk, 5, 8), seed=3)
    lk = 5 + (4 if extra.get("past") else 0)
    mask = None
    if extra.get("mask") == "float":
        mask = rand((3, lk), seed=4)
    elif extra.get("mask") == "bool":
        mask = rand((2, 1, 3, lk), np.bool_, seed=4)
        mask[..., 0] = True
    inputs = [q, k, v, mask]
    if extra.get("past"):
        inputs += [rand((2, hk, 4, 8), seed=5), rand((2, hk, 4, 8), seed=6)]
    check("Attention", inputs, attrs, n_outputs=4 if extra.get("past") or "qk_matmul_output_mode" in attrs else 1,
          opset=23, rtol=1e-5, atol=1e-5)


def test_attention_3d_heads():
    q, k, v = rand((2, 3, 16), seed=1), rand((2, 5, 8), seed=2), rand((2, 5, 8), seed=3)
    check("Attention", [q, k, v], {"q_num_heads": 4, "kv_num_heads": 2}, opset=23)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted,ignore", [(False, None), (True, None), (True, 1), (False, 2)])
def test_losses(op, reduction, weighted, ignore):
    x = rand((3, 4, 2), seed=1)
    target = rand((3, 2), I64, low=0, high=3, seed=2)
    inputs = [x, target] + ([rand((4,), low=0.1, high=1.0, seed=3)] if weighted else [])
    attrs = {"reduction": reduction} | ({"ignore_index": ignore} if ignore is not None else {})
    check(op, inputs, attrs, n_outputs=2 if op.startswith("Softmax") else 1, opset=13)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift(direction):
    check("BitShift", [np.array([16, 4, 1], np.uint32), np.array([1, 2, 3], np.uint32)], {"direction": direction})


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise_binary(op):
    check(op, [rand((3, 4), np.int32, low=-50, high=50), rand((4,), np.int32, low=-50, high=50, seed=1)], opset=18)


def test_bitwise_not():
    check("BitwiseNot", [rand((3, 4), np.uint8, low=0, high=255)], opset=18)


@pytest.mark.parametrize("axis", [-1, 1])
def test_rms_normalization(axis):
    check("RMSNormalization", [rand((2, 3, 4)), rand((3, 4) if axis == 1 else (4,), seed=1)], {"axis": axis}, opset=23)


@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8, np.int16])
def test_quantize_dequantize_per_tensor(zp_dtype):
    x = rand((3, 4), low=-20, high=20)
    scale, zp = np.array(0.25, F32), np.array(3, zp_dtype)
    (q,) = check("QuantizeLinear", [x, scale, zp], opset=21)
    check("DequantizeLinear", [q, scale, zp], opset=21)


def test_quantize_dequantize_per_axis_and_blocked():
    x = rand((3, 4), low=-20, high=20)
    scale, zp = np.array([0.1, 0.2, 0.3, 0.4], F32), np.array([0, 1, 2, 3], np.uint8)
    (q,) = check("QuantizeLinear", [x, scale, zp], {"axis": 1}, opset=21)
    check("DequantizeLinear", [q, scale, zp], {"axis": 1}, opset=21)
    bscale, bzp = rand((3, 2), low=0.1, high=0.5), np.zeros((3, 2), np.int8)
    (q,) = check("QuantizeLinear", [x, bscale, bzp], {"axis": 1, "block_size": 2}, opset=21)
    check("DequantizeLinear", [q, bscale, bzp], {"axis": 1, "block_size": 2}, opset=21)


def test_dynamic_quantize_linear():
    check("DynamicQuantizeLinear", [rand((3, 4), low=-3, high=5)], n_outputs=3, opset=11)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
def test_scatter_elements(reduction):
    data = rand((3, 4))
    idx = np.array([[0, -1], [2, 2], [1, 0]], I64)
    attrs = {"axis": 1} | ({"reduction": reduction} if reduction != "none" else {})
    check("ScatterElements", [data, idx, rand((3, 2), seed=1)], attrs, opset=18)


@pytest.mark.parametrize("reduction", ["none", "add", "max"])
def test_scatter_nd(reduction):
    data = rand((4, 3, 2))
    idx = np.array([[0, 1], [3, 2], [0, 1]], I64) if reduction != "none" else np.array([[0, 1], [3, 2]], I64)
    attrs = {"reduction": reduction} if reduction != "none" else {}
    check("ScatterND", [data, idx, rand((idx.shape[0], 2), seed=1)], attrs, opset=18)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    check("OneHot", [np.array([[0, 2], [-1, 5]], I64), np.array(4, I64), np.array([0.5, 3.0], F32)],
          {"axis": axis}, opset=11)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_compress(axis):
    attrs = {} if axis is None else {"axis": axis}
    cond = np.array([False, True]) if axis == 1 else np.array([True, False, True])  # may be shorter than the axis
    check("Compress", [rand((3, 2)), cond], attrs, opset=11)


def test_eye_like_shrink_swish_det():
    check("EyeLike", [rand((3, 5))], {"k": 1, "dtype": 7}, opset=9)
    check("Shrink", [rand((4, 4), low=-3, high=3)], {"lambd": 1.0, "bias": 0.5}, opset=9)
    check("Swish", [rand((3, 4))], {"alpha": 1.5}, opset=24)
    check("Det", [rand((2, 3, 3))], opset=11, rtol=1e-4)


def test_reverse_sequence():
    x = rand((4, 3, 2))
    check("ReverseSequence", [x, np.array([4, 2, 0], I64)], {"batch_axis": 1, "time_axis": 0}, opset=10)


@pytest.mark.parametrize("attrs", [{}, {"sorted": 0}, {"axis": 0}, {"axis": -1, "sorted": 1}])
def test_unique(attrs):
    x = np.array([[2, 1, 2], [0, 1, 2], [2, 1, 2]], np.int64)
    if attrs == {"sorted": 0}:  # onnx.reference fails on unsorted N-D input; its node test is 1-D
        x = np.array([2, 1, 1, 3, 4, 3], np.int64)
    check("Unique", [x], attrs, n_outputs=4, opset=11)


def test_normalizations():
    check("LpNormalization", [rand((3, 4), low=0.1)], {"axis": 1, "p": 1})  # reference: sum(x), no abs
    (y,) = run_ours("LpNormalization", [np.array([[-1.0, 3.0]], F32)], {"axis": 1, "p": 1})
    np.testing.assert_allclose(y, [[-0.25, 0.75]])
    check("LpNormalization", [np.zeros((2, 3), F32)], {"axis": -1, "p": 2})
    check("MeanVarianceNormalization", [rand((2, 3, 4, 5))], opset=13, rtol=1e-4, atol=1e-4)
    check("GroupNormalization", [rand((2, 4, 3)), rand((4,), seed=1), rand((4,), seed=2)],
          {"num_groups": 2}, opset=21, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
def test_cumprod(exclusive, reverse):
    check("CumProd", [rand((3, 4), low=0.5, high=1.5), np.array(1, I64)],
          {"exclusive": exclusive, "reverse": reverse}, opset=26)


def test_mod_fmod0_on_floats_is_python_mod():
    (y,) = run_ours("Mod", [np.array([-4.5, 4.5, 7.0], F32), np.array([2.0, -2.0, 3.0], F32)], {"fmod": 0})
    np.testing.assert_allclose(y, [1.5, -1.5, 1.0])


def test_reduce_max_of_empty_bool_is_false():
    (y,) = run_ours("ReduceMax", [np.zeros((2, 0), np.bool_), np.array([1], I64)], {"keepdims": 0}, opset=20)
    assert y.dtype == np.bool_ and y.tolist() == [False, False]
