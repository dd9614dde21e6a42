"""Reductions, softmax family, normalisation, matrix products, TopK."""
import numpy as np
import pytest

from opcheck import check, rand, run_ours

F32 = np.float32
I64 = np.int64

REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]
AXES_INPUT_SINCE = {"ReduceSum": 13}


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("axes", [None, [1], [0, -1]])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce(op, opset, axes, keepdims):
    low = 0.1 if op in ("ReduceLogSum",) else -1.5
    x = rand((2, 3, 4), low=low, high=1.5)
    attrs = {"keepdims": keepdims}
    if opset >= AXES_INPUT_SINCE.get(op, 18):
        inputs = [x] + ([np.array(axes, I64)] if axes is not None else [])
    else:
        inputs = [x]
        if axes is not None:
            attrs["axes"] = axes
    check(op, inputs, attrs, opset=opset)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                "ReduceSumSquare", "ReduceL1"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reduce_int(op, dtype):
    # output keeps T (the reference promotes int32 sums of squares to int64)
    check(op, [rand((3, 4), dtype, low=-4, high=4), np.array([1], I64)], {"keepdims": 0}, opset=18,
          dtypes=[dtype])


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax"])
def test_reduce_noop_with_empty_axes(op):
    x = rand((2, 3))
    check(op, [x, np.zeros((0,), I64)], {"noop_with_empty_axes": 1}, opset=18)
    check(op, [x], {"noop_with_empty_axes": 1}, opset=18)
    check(op, [x, np.zeros((0,), I64)], {"noop_with_empty_axes": 0}, opset=18)


def test_reduce_empty_tensor():
    x = np.zeros((0, 3), F32)
    check("ReduceSum", [x, np.array([0], I64)], opset=18)
    (mx,) = run_ours("ReduceMax", [x, np.array([0], I64)], opset=18)
    assert mx.shape == (1, 3) and np.all(mx == -np.inf)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg(op, axis, keepdims, last):
    x = rand((3, 4), np.int64, low=0, high=2).astype(F32)  # many ties
    check(op, [x], {"axis": axis, "keepdims": keepdims, "select_last_index": last}, opset=13)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_softmax(op, opset, axis):
    x = rand((2, 3, 4), low=-5, high=5)
    if op == "Hardmax":
        x = np.round(x)  # ties: first index wins
    # the reference evaluator lacks the opset<13 "coerce to 2-D" semantics; ORT has them
    check(op, [x], {} if axis is None else {"axis": axis}, opset=opset, ref="ort" if opset < 13 else "onnx")


def test_softmax_f64():
    check("Softmax", [rand((3, 5), np.float64)])


@pytest.mark.parametrize("axis", [-1, 1, 0])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n_out", [1, 3])
def test_layer_norm(axis, bias, n_out):
    x = rand((2, 3, 4))
    norm_shape = x.shape[axis:] if axis >= 0 else x.shape[axis:]
    inputs = [x, rand(norm_shape, seed=1), rand(norm_shape, seed=2) if bias else None]
    check("LayerNormalization", inputs, {"axis": axis, "epsilon": 1e-3}, n_outputs=n_out)


def test_layer_norm_f16():
    x = rand((2, 8), np.float16)
    # Mean/InvStdDev are in the stash type (float32): ORT agrees, the reference casts them to fp16
    check("LayerNormalization", [x, rand((8,), np.float16, seed=1), rand((8,), np.float16, seed=2)],
          n_outputs=3, ref="ort")


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                                   ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 5)), ((0, 4), (4, 2))])
def test_matmul(sa, sb):
    check("MatMul", [rand(sa), rand(sb, seed=1)])


def test_matmul_int():
    check("MatMul", [rand((3, 4), np.int32, low=-3, high=3), rand((4, 2), np.int32, seed=1, low=-3, high=3)])


@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("tb", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (5,), (3, 5), (1, 5), (3, 1), ()])
def test_gemm(ta, tb, c_shape):
    a = rand((4, 3) if ta else (3, 4))
    b = rand((5, 4) if tb else (4, 5), seed=1)
    inputs = [a, b] + ([rand(c_shape, seed=2)] if c_shape is not None else [])
    check("Gemm", inputs, {"transA": ta, "transB": tb, "alpha": 0.5, "beta": 2.0})
    check("Gemm", inputs, {"transA": ta, "transB": tb})


def test_gemm_int():
    a, b = rand((3, 4), np.int64, low=-3, high=3), rand((4, 2), np.int64, seed=1, low=-3, high=3)
    check("Gemm", [a, b, np.array([1, 2], I64)], {"alpha": 2.0, "beta": 3.0}, opset=13)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->i", [(3, 3)]),
    ("ij->ji", [(3, 4)]), ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]), ("i,i", [(4,), (4,)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 4), (1, 2, 5, 4)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
])
def test_einsum(eq, shapes):
    check("Einsum", [rand(s, seed=i) for i, s in enumerate(shapes)], {"equation": eq})


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_topk(largest, axis, k):
    x = np.round(rand((4, 5), low=-3, high=3))  # ties: lower index first
    check("TopK", [x, np.array([k], I64)], {"axis": axis, "largest": largest}, n_outputs=2, opset=11)


def test_topk_legacy_and_int():
    check("TopK", [rand((3, 6))], {"k": 2}, n_outputs=2, opset=9)
    check("TopK", [rand((3, 6), np.int32, low=-9, high=9), np.array([4], I64)], n_outputs=2, opset=11)
