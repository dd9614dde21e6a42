"""Elementwise ops: arithmetic, comparisons, logic, unary math, activations."""
import numpy as np
import pytest

from opcheck import check, rand, run_ours

F32 = np.float32


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("shapes", [((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 2)), ((0, 3), (3,))])
def test_arith_broadcast(op, shapes):
    a, b = rand(shapes[0], seed=1), rand(shapes[1], seed=2, low=0.5, high=2)
    check(op, [a, b])


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.float16])
def test_arith_dtypes(op, dtype):
    a = rand((3, 4), dtype, seed=1, low=-9, high=9)
    b = rand((3, 4), dtype, seed=2, low=1, high=4)
    b = np.where(np.arange(12).reshape(3, 4) % 2 == 0, b, -b).astype(dtype)  # negative divisors
    check(op, [a, b])


def test_int_div_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 0], dtype=np.int64)
    b = np.array([2, 2, -2, -2, 3], dtype=np.int64)
    (out,) = run_ours("Div", [a, b])
    np.testing.assert_array_equal(out, [3, -3, -3, 3, 0])
    assert out.dtype == np.int64


def test_legacy_broadcast_axis():
    a, b = rand((2, 3, 4)), rand((3,))
    (out,) = run_ours("Add", [a, b], {"broadcast": 1, "axis": 1}, opset=6)
    np.testing.assert_allclose(out, a + b[:, None])


@pytest.mark.parametrize("exp_dtype", [np.float32, np.int64])
def test_pow_keeps_base_dtype(exp_dtype):
    a = rand((3, 4), low=0.1, high=3)
    b = np.array(2, dtype=exp_dtype)
    check("Pow", [a, b])
    check("Pow", [a, b], consts=(1,))  # constant-exponent fast path
    check("Pow", [a, np.array(0.5, dtype=F32)], consts=(1,))
    check("Pow", [a, rand((4,), seed=3)])


def test_pow_int():
    check("Pow", [np.array([2, 3, -2], dtype=np.int64), np.array([3, 2, 3], dtype=np.int64)])


@pytest.mark.parametrize("fmod", [0, 1])
def test_mod(fmod):
    a = np.array([5, -5, 5, -5, 7], dtype=np.int32)
    b = np.array([3, 3, -3, -3, 7], dtype=np.int32)
    check("Mod", [a, b], {"fmod": fmod})
    if fmod:
        check("Mod", [rand((3, 4), low=-5, high=5), rand((4,), seed=1, low=0.5, high=2)], {"fmod": 1})


@pytest.mark.parametrize("op", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_compare(op, dtype):
    a = rand((2, 3, 4), dtype, low=-2, high=2)
    b = rand((3, 1), dtype, seed=5, low=-2, high=2)
    check(op, [a, b])


def test_equal_bool_and_string():
    check("Equal", [rand((3, 4), np.bool_), rand((4,), np.bool_, seed=3)])
    a = np.array(["a", "b", "c"], dtype=object)
    b = np.array(["a", "x", "c"], dtype=object)
    (out,) = run_ours("Equal", [a, b], opset=19)
    np.testing.assert_array_equal(out, [True, False, True])
    assert out.dtype == np.bool_


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logical(op):
    check(op, [rand((2, 3), np.bool_), rand((3,), np.bool_, seed=1)])


def test_not():
    check("Not", [rand((2, 3), np.bool_)])


UNARY = {
    "Abs": {}, "Neg": {}, "Sqrt": dict(low=0, high=4), "Reciprocal": dict(low=0.5, high=3),
    "Exp": {}, "Log": dict(low=0.1, high=4), "Erf": {}, "Tanh": {}, "Sigmoid": dict(low=-20, high=20),
    "Floor": {}, "Ceil": {}, "Sign": {}, "Softplus": dict(low=-30, high=30), "Softsign": {},
    "Mish": {}, "Sin": {}, "Cos": {}, "Tan": dict(low=-1, high=1), "Asin": dict(low=-1, high=1),
    "Acos": dict(low=-1, high=1), "Atan": {}, "Sinh": {}, "Cosh": {}, "Asinh": {},
    "Acosh": dict(low=1, high=4), "Atanh": dict(low=-0.9, high=0.9), "Relu": {}, "IsNaN": {},
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_f32(op):
    check(op, [rand((3, 5), **UNARY[op])], opset=18)


@pytest.mark.parametrize("op", ["Abs", "Neg", "Sqrt", "Exp", "Tanh", "Sigmoid", "Erf", "Relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_unary_dtypes(op, dtype):
    check(op, [rand((4, 3), dtype, low=0.1, high=2)])


def test_unary_empty_and_scalar():
    check("Exp", [np.zeros((0, 3), F32)])
    out = check("Exp", [np.array(1.5, F32)])
    assert out[0].shape == () and isinstance(out[0], np.ndarray)


@pytest.mark.parametrize("op,dtype", [("Abs", np.int32), ("Neg", np.int64), ("Sign", np.int64),
                                      ("Relu", np.int32), ("Abs", np.int8)])
def test_unary_int(op, dtype):
    check(op, [rand((3, 4), dtype, low=-5, high=5)], opset=18)


def test_round_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6], dtype=F32)
    check("Round", [x])


def test_isinf():
    x = np.array([np.inf, -np.inf, 1.0, np.nan], dtype=F32)
    for neg in (0, 1):
        for pos in (0, 1):
            check("IsInf", [x], {"detect_negative": neg, "detect_positive": pos})


ACTIVATIONS = [
    ("LeakyRelu", {}), ("LeakyRelu", {"alpha": 0.2}), ("LeakyRelu", {"alpha": -1.5}),
    ("Elu", {}), ("Elu", {"alpha": 0.5}), ("Selu", {}), ("Selu", {"alpha": 2.0, "gamma": 3.0}),
    ("Celu", {"alpha": 2.0}), ("ThresholdedRelu", {"alpha": 0.5}),
    ("HardSigmoid", {}), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), ("HardSwish", {}),
]


@pytest.mark.parametrize("op,attrs", ACTIVATIONS)
def test_activations(op, attrs):
    check(op, [rand((3, 7), low=-5, high=5)], attrs)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu(approximate, dtype):
    check("Gelu", [rand((4, 8), dtype, low=-5, high=5)], {"approximate": approximate}, opset=20)


@pytest.mark.parametrize("slope_shape", [(1,), (4,), (3, 1, 1), ()])
def test_prelu(slope_shape):
    check("PRelu", [rand((2, 3, 5, 4)), rand(slope_shape, seed=3)])


def test_where():
    c = rand((2, 3, 4), np.bool_)
    check("Where", [c, rand((3, 4)), rand((1,), seed=1)])
    check("Where", [c, rand((4,), np.int64, low=0, high=9), np.array(-1, np.int64)])


@pytest.mark.parametrize("op", ["Min", "Max", "Sum", "Mean"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_variadic(op, n):
    shapes = [(2, 3, 4), (3, 1), (4,)][:n]
    check(op, [rand(s, seed=i) for i, s in enumerate(shapes)])


@pytest.mark.parametrize("op", ["Min", "Max", "Sum"])
def test_variadic_int(op):
    check(op, [rand((3, 4), np.int32, seed=1, low=-5, high=5), rand((4,), np.int32, seed=2, low=-5, high=5)])


@pytest.mark.parametrize("opset", [6, 11, 13])
def test_clip(opset):
    x = rand((3, 5), low=-3, high=3)
    if opset < 11:
        check("Clip", [x], {"min": -1.0, "max": 0.5}, opset=opset)
        check("Clip", [x], {"max": 0.5}, opset=opset)
        check("Clip", [x], {}, opset=opset)
    else:
        check("Clip", [x, np.array(-1, F32), np.array(0.5, F32)], opset=opset)
        check("Clip", [x, None, np.array(0.5, F32)], opset=opset)
        check("Clip", [x, np.array(-1, F32)], opset=opset)
        check("Clip", [x], opset=opset)


def test_clip_int():
    x = rand((3, 5), np.int64, low=-9, high=9)
    check("Clip", [x, np.array(-2, np.int64), np.array(3, np.int64)], opset=13)
