"""Shape / data-movement ops: Cast, Shape, Gather*, (Un)Squeeze, Concat, Reshape, Slice, ..."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from opcheck import check, rand, run_ours

F32 = np.float32
I64 = np.int64


def i64(*v):
    return np.array(v, dtype=I64)


@pytest.mark.parametrize("to,src", [
    (TensorProto.INT64, np.float32), (TensorProto.INT32, np.float32), (TensorProto.FLOAT, np.int64),
    (TensorProto.BOOL, np.float32), (TensorProto.FLOAT16, np.float32), (TensorProto.DOUBLE, np.float32),
    (TensorProto.FLOAT, np.bool_), (TensorProto.UINT8, np.int32), (TensorProto.FLOAT, np.float32),
])
def test_cast(to, src):
    x = rand((3, 4), src, low=-5, high=5)
    if src == np.float32:
        x[0, :3] = [-2.7, 2.7, 0.0]  # truncation toward zero
    if to == TensorProto.UINT8:
        x = np.abs(x)
    check("Cast", [x], {"to": to})


def test_cast_strings():
    x = np.array(["1.5", "-2", "3e2"], dtype=object)
    check("Cast", [x], {"to": TensorProto.FLOAT})
    (out,) = run_ours("Cast", [np.array([1.5, -2.0], F32)], {"to": TensorProto.STRING})
    assert out.dtype == object and list(out) == ["1.5", "-2.0"]


def test_cast_like():
    check("CastLike", [rand((2, 3)), np.zeros((1,), np.int64)], opset=15)


@pytest.mark.parametrize("start,end", [(None, None), (1, None), (-2, None), (0, -1), (-10, 10), (2, 1)])
def test_shape(start, end):
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    check("Shape", [rand((2, 3, 4, 5))], attrs, opset=15)


def test_shape_scalar_and_size():
    check("Shape", [np.array(1.0, F32)])
    check("Size", [rand((2, 3, 4))])
    check("Size", [np.zeros((0, 3), F32)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(axis):
    x = rand((4, 5, 6))
    check("Gather", [x, i64(0, -1, 2)], {"axis": axis})
    check("Gather", [x, np.array([[1, 0], [3, -2]], np.int32)], {"axis": axis})
    check("Gather", [x, np.array(1, I64)], {"axis": axis})  # scalar index drops the axis


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(axis):
    x = rand((3, 3))
    idx = np.array([[0, 1, -1], [2, 0, 1], [1, -3, 0]], I64)
    check("GatherElements", [x, idx], {"axis": axis})
    check("GatherElements", [rand((2, 3, 4)), rand((2, 2, 4), I64, low=-2, high=1)], {"axis": axis}, ref="ort")


def test_gather_elements_smaller_indices():
    # indices may be smaller than data in the non-gathered dims (ORT supports it; the reference does not)
    x = rand((3, 4))
    check("GatherElements", [x, np.array([[2, 0], [1, 1]], I64)], {"axis": 0}, ref="ort")


@pytest.mark.parametrize("batch_dims,data_shape,idx", [
    (0, (2, 2), [[0, 0], [1, 1]]),
    (0, (2, 2), [[1], [0]]),
    (0, (2, 2, 2), [[0, 1], [1, 0]]),
    (0, (2, 2, 2), [[[0, 1]], [[1, 0]]]),
    (1, (2, 2, 2), [[1], [0]]),
    (1, (2, 3, 4), [[[1, -1], [0, 2]], [[2, 0], [1, 1]]]),
])
def test_gather_nd(batch_dims, data_shape, idx):
    check("GatherND", [rand(data_shape), np.array(idx, I64)], {"batch_dims": batch_dims})


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axes", [[0], [1, -1], [-1], [0, 4]])
def test_unsqueeze(opset, axes):
    x = rand((2, 3, 1))
    if opset < 13:
        check("Unsqueeze", [x], {"axes": axes}, opset=opset)
    else:
        check("Unsqueeze", [x, i64(*axes)], opset=opset)


def test_unsqueeze_opset9_scalar():
    check("Unsqueeze", [np.array(3, I64)], {"axes": [0]}, opset=9)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axes", [None, [1], [-1, 1]])
def test_squeeze(opset, axes):
    x = rand((2, 1, 3, 1))
    if axes is None:
        check("Squeeze", [x], opset=opset)
    elif opset < 13:
        check("Squeeze", [x], {"axes": axes}, opset=opset)
    else:
        check("Squeeze", [x, i64(*axes)], opset=opset)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis):
    shapes = [(2, 3, 4)] * 3
    xs = [rand(s, seed=i) for i, s in enumerate(shapes)]
    check("Concat", xs, {"axis": axis})
    check("Concat", [xs[0]], {"axis": axis})


def test_concat_empty_and_int():
    check("Concat", [rand((2, 0)), rand((2, 3))], {"axis": 1})
    check("Concat", [i64(1, 2), i64(3), np.zeros((0,), I64)], {"axis": 0})


@pytest.mark.parametrize("shape,allowzero", [
    ([4, -1], 0), ([0, 3, 4], 0), ([-1], 0), ([2, 0, -1], 0), ([1, 2, 3, 4, 1], 0), ([0, 12], 1),
])
def test_reshape(shape, allowzero):
    x = rand((2, 3, 4)) if shape != [0, 12] else rand((0, 3, 4))
    if shape == [0, 12]:
        shape = [0, 7]
    check("Reshape", [x, i64(*shape)], {"allowzero": allowzero} if allowzero else {}, opset=14)


def test_reshape_legacy_attr():
    (out,) = run_ours("Reshape", [rand((2, 6))], {"shape": [3, 4]}, opset=1)
    assert out.shape == (3, 4)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten(axis):
    check("Flatten", [rand((2, 3, 4))], {"axis": axis}, opset=13)


def test_flatten_empty():
    check("Flatten", [rand((0, 3, 4))], {"axis": 1}, ref="ort")
    check("Flatten", [rand((2, 0, 4))], {"axis": 1})


@pytest.mark.parametrize("perm", [None, [0, 2, 1], [2, 0, 1]])
def test_transpose(perm):
    check("Transpose", [rand((2, 3, 4))], {"perm": perm} if perm else {})


@pytest.mark.parametrize("xshape,shape", [((3, 1), (2, 3, 4)), ((1, 4), (3, 1)), ((2,), (2,)), ((), (2, 2))])
def test_expand(xshape, shape):
    check("Expand", [rand(xshape), i64(*shape)])


SLICES = [  # starts, ends, axes, steps
    ([0], [2], None, None),
    ([1, 0], [-1, 100], [0, 2], None),
    ([-1], [-100], [1], [-1]),
    ([100], [-100], [2], [-2]),
    ([-100], [-100], [2], [-1]),
    ([2], [0], [0], [-1]),
    ([0, 1], [3, 4], [-1, -2], [2, 1]),
    ([5], [10], [0], [1]),
    ([9223372036854775807], [-9223372036854775808], [2], [-1]),
]


@pytest.mark.parametrize("starts,ends,axes,steps", SLICES)
def test_slice(starts, ends, axes, steps):
    x = rand((4, 5, 6))
    inputs = [x, i64(*starts), i64(*ends)]
    if axes is not None or steps is not None:
        inputs.append(i64(*(axes if axes is not None else range(len(starts)))))
    if steps is not None:
        inputs.append(i64(*steps))
    # the reference evaluator mis-clamps negative-step starts below -dim; ORT follows the spec
    check("Slice", inputs, opset=13, ref="ort" if steps and steps[0] < 0 else "onnx")


def test_slice_legacy_attrs():
    x = rand((4, 5, 6))
    check("Slice", [x], {"starts": [1, 0], "ends": [3, -1], "axes": [0, 2]}, opset=9)
    check("Slice", [x], {"starts": [1], "ends": [1000]}, opset=1)


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_sizes(opset):
    x = rand((6, 4))
    if opset < 13:
        check("Split", [x], {"axis": 0, "split": [1, 2, 3]}, n_outputs=3, opset=opset)
    else:
        check("Split", [x, i64(1, 2, 3)], {"axis": 0}, n_outputs=3, opset=opset)
    check("Split", [x, i64(1, 3)] if opset >= 13 else [x], {"axis": -1} if opset >= 13 else {"axis": -1, "split": [1, 3]},
          n_outputs=2, opset=opset)


@pytest.mark.parametrize("opset", [11, 13])
def test_split_equal(opset):
    check("Split", [rand((2, 6))], {"axis": 1}, n_outputs=3, opset=opset)


@pytest.mark.parametrize("dim,n", [(6, 3), (7, 3), (5, 4)])
def test_split_num_outputs(dim, n):
    check("Split", [rand((dim, 2))], {"axis": 0, "num_outputs": n}, n_outputs=n, opset=18)


def test_tile():
    check("Tile", [rand((2, 3)), i64(2, 1)])
    check("Tile", [rand((2, 3), np.int32), i64(1, 3)])
    check("Tile", [rand((2, 3)), i64(0, 2)])


PADS = [
    ("constant", [1, 2, 0, 3]), ("reflect", [1, 2, 2, 1]), ("edge", [2, 0, 1, 3]),
    ("constant", [-1, 1, 0, -2]), ("edge", [0, -1, 2, 0]),
]


@pytest.mark.parametrize("mode,pads", PADS)
@pytest.mark.parametrize("opset", [2, 13])
def test_pad(mode, pads, opset):
    x = rand((3, 4))
    ref = "ort" if min(pads) < 0 else "onnx"  # the reference evaluator cannot crop
    if opset < 11:
        check("Pad", [x], {"mode": mode, "pads": pads, "value": 1.5}, opset=opset, ref=ref)
    else:
        check("Pad", [x, i64(*pads), np.array(1.5, F32)], {"mode": mode}, opset=opset, ref=ref)
        check("Pad", [x, i64(*pads)], {"mode": mode}, opset=opset, ref=ref)


def test_pad_axes_wrap_and_int():
    x = rand((2, 3, 4))
    check("Pad", [x, i64(1, 2), np.array(0.0, F32), i64(-1)], {"mode": "constant"}, opset=18)
    check("Pad", [x, i64(1, 2, 1, 3), None, i64(0, 2)], {"mode": "edge"}, opset=18)
    check("Pad", [x, i64(0, 2, 1, 0, 1, 2)], {"mode": "wrap"}, opset=19)
    xi = rand((3, 3), np.int64, low=-5, high=5)
    check("Pad", [xi, i64(1, 1, 1, 1), np.array(7, I64)], {"mode": "constant"}, opset=13)


def test_identity_and_dropout():
    x = rand((3, 4))
    check("Identity", [x])
    check("Dropout", [x], {"ratio": 0.3}, opset=7)
    check("Dropout", [x, np.array(0.3, F32)], opset=13)
    got = run_ours("Dropout", [x, np.array(0.3, F32), np.array(False)], n_outputs=2, opset=13)
    np.testing.assert_array_equal(got[0], x)
    assert got[1].dtype == np.bool_ and got[1].all() and got[1].shape == x.shape
    got = run_ours("Dropout", [x], {"ratio": 0.3}, n_outputs=2, opset=7)
    assert got[1].dtype == F32


@pytest.mark.parametrize("attrs", [
    {"value": helper.make_tensor("v", TensorProto.FLOAT, [2, 2], [1, 2, 3, 4])},
    {"value": helper.make_tensor("v", TensorProto.INT64, [], [7])},
    {"value_float": 1.5}, {"value_floats": [1.0, 2.5]}, {"value_int": 3}, {"value_ints": [1, 2, 3]},
    {"value_string": "abc"}, {"value_strings": ["a", "bc"]},
])
def test_constant(attrs):
    got = check("Constant", [], attrs, opset=13, check_dtype="value_string" not in attrs and "value_strings" not in attrs)
    assert not got[0].flags.writeable


def test_constant_sparse():
    sparse = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [2], [5.0, 6.0]),
                                       helper.make_tensor("i", TensorProto.INT64, [2], [1, 4]), [2, 3])
    (out,) = run_ours("Constant", [], {"sparse_value": sparse})
    np.testing.assert_array_equal(out, [[0, 5, 0], [0, 6, 0]])
    assert out.dtype == F32


@pytest.mark.parametrize("value", [None, helper.make_tensor("v", TensorProto.INT64, [1], [3]),
                                   helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5])])
@pytest.mark.parametrize("shape", [(2, 3), (0,), ()])
def test_constant_of_shape(value, shape):
    check("ConstantOfShape", [i64(*shape)], {"value": value} if value is not None else {}, opset=13)


@pytest.mark.parametrize("args,dtype", [((0, 10, 3), np.int64), ((10, 0, -3), np.int32), ((1.0, 2.0, 0.3), np.float32),
                                        ((5, 5, 1), np.int64), ((0.0, -1.0, 0.25), np.float64)])
def test_range(args, dtype):
    check("Range", [np.array(a, dtype) for a in args])


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
def test_cumsum(exclusive, reverse, axis):
    attrs = {"exclusive": exclusive, "reverse": reverse}
    check("CumSum", [rand((3, 4)), np.array(axis, I64)], attrs)
    check("CumSum", [rand((3, 4), np.int32, low=-5, high=5), np.array(axis, np.int32)], attrs)


def test_nonzero():
    check("NonZero", [np.array([[1, 0, 2], [0, 0, 3]], F32)])
    check("NonZero", [np.zeros((2, 3), np.int64)])
    check("NonZero", [rand((2, 3, 4), np.bool_)])


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 1, -2, 10])
def test_trilu(upper, k):
    x = rand((2, 4, 5))
    check("Trilu", [x] + ([] if k is None else [np.array(k, I64)]), {"upper": upper}, opset=14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int8, np.bool_])
def test_gather_rows_native(dtype):
    # Row gathers of 16 KB or more run natively (kernels.gather_rows): an embedding lookup
    table = (rand((300, 70)) * 10).astype(dtype)
    idx = np.array([[0, 299, -1, 5] * 20, [7, -300, 150, 2] * 20], np.int64)
    check("Gather", [table, idx], {"axis": 0})
    check("Gather", [rand((40, 8, 16)), np.arange(-40, 40, dtype=np.int32)], {"axis": 0})
    with pytest.raises(Exception, match="out of range.*300"):
        run_ours("Gather", [table, np.array([300] * 100, np.int64)], {"axis": 0})


def test_add_native_same_shape():
    # Same-shape float32 adds of 16K+ elements run natively (kernels.add); others broadcast in numpy
    a, b = rand((2, 128, 768)), rand((2, 128, 768))
    check("Add", [a, b])
    check("Add", [a, rand((1, 128, 768))])
    check("Add", [a[:, ::2].copy(), b[:, ::2]])  # one operand not C-contiguous
