"""decode_attribute covers every AttributeProto type; the registry lists every op we promise."""
import numpy as np
import pytest
from onnx import AttributeProto, TensorProto, TypeProto, helper

from sparse_runtime.ops import all_specs
from sparse_runtime.ops.attributes import decode_attribute, decode_attributes


def _tensor(vals=(1.0, 2.0), dims=(2,)):
    return helper.make_tensor("t", TensorProto.FLOAT, list(dims), list(vals))


def test_scalars_and_lists():
    assert decode_attribute(helper.make_attribute("f", 1.5)) == 1.5
    assert decode_attribute(helper.make_attribute("i", 3)) == 3
    assert decode_attribute(helper.make_attribute("s", "héllo")) == "héllo"
    assert decode_attribute(helper.make_attribute("s", b"raw")) == "raw"
    assert decode_attribute(helper.make_attribute("fs", [1.0, 2.5])) == [1.0, 2.5]
    assert decode_attribute(helper.make_attribute("is", [1, -2])) == [1, -2]
    assert decode_attribute(helper.make_attribute("ss", ["a", "b"])) == ["a", "b"]
    empty = helper.make_attribute("e", [], attr_type=AttributeProto.INTS)
    assert decode_attribute(empty) == []


def test_tensors():
    t = decode_attribute(helper.make_attribute("t", _tensor()))
    assert isinstance(t, np.ndarray) and t.dtype == np.float32 and t.tolist() == [1.0, 2.0]
    ts = decode_attribute(helper.make_attribute("ts", [_tensor(), _tensor((3.0,), (1,))]))
    assert [x.tolist() for x in ts] == [[1.0, 2.0], [3.0]]
    st = helper.make_tensor("s", TensorProto.STRING, [2], [b"x", b"yz"])
    s = decode_attribute(helper.make_attribute("st", st))
    assert s.dtype == object and s.tolist() == ["x", "yz"]


@pytest.mark.parametrize("indices,dims", [([1, 4], [1, 2]), ([[0, 1], [1, 1]], [2, 2])])
def test_sparse_tensor(indices, dims):
    idx = np.array(indices, np.int64)
    sp = helper.make_sparse_tensor(
        helper.make_tensor("v", TensorProto.FLOAT, [2], [5.0, 6.0]),
        helper.make_tensor("i", TensorProto.INT64, list(idx.shape), idx.reshape(-1).tolist()), [2, 3])
    dense = decode_attribute(helper.make_attribute("sp", sp))
    want = np.zeros((2, 3), np.float32)
    if idx.ndim == 1:
        want.reshape(-1)[idx] = [5, 6]
    else:
        want[tuple(idx.T)] = [5, 6]
    np.testing.assert_array_equal(dense, want)
    both = decode_attribute(helper.make_attribute("sps", [sp, sp]))
    assert len(both) == 2 and both[0].shape == (2, 3)


def test_graphs_and_type_protos():
    g = helper.make_graph([], "body", [], [])
    assert decode_attribute(helper.make_attribute("g", g)) is not None
    assert decode_attribute(helper.make_attribute("g", g)).name == "body"
    gs = decode_attribute(helper.make_attribute("gs", [g, g]))
    assert [x.name for x in gs] == ["body", "body"]
    tp = helper.make_tensor_type_proto(TensorProto.FLOAT, [2])
    attr = helper.make_attribute("tp", tp)
    assert isinstance(decode_attribute(attr), TypeProto)
    attrs = helper.make_attribute("tps", [tp, tp])
    assert len(decode_attribute(attrs)) == 2


def test_decode_attributes_dict():
    node = helper.make_node("Foo", ["x"], ["y"], alpha=0.5, mode="edge", axes=[0, 1])
    assert decode_attributes(node.attribute) == {"alpha": 0.5, "mode": "edge", "axes": [0, 1]}


REQUIRED = """Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Neg Abs Erf Tanh Sigmoid Relu LeakyRelu Gelu Where
Equal Less LessOrEqual Greater GreaterOrEqual Not And Or Xor Cast CastLike Shape Size Gather GatherElements
GatherND Unsqueeze Squeeze Concat Reshape Flatten Transpose Expand Slice Split Tile Pad Identity Constant
ConstantOfShape Range CumSum ReduceMean ReduceSum ReduceMax ReduceMin ReduceProd ReduceL2 ReduceSumSquare
Softmax LogSoftmax LayerNormalization MatMul Gemm Einsum ArgMax ArgMin TopK NonZero Trilu Min Max Mean Sum
Clip Floor Ceil Round Sign Mod IsNaN IsInf Dropout Softplus HardSigmoid HardSwish Elu Selu PRelu Mish
Conv ConvTranspose BatchNormalization MaxPool AveragePool GlobalAveragePool GlobalMaxPool LRN
InstanceNormalization Resize Upsample DepthToSpace SpaceToDepth""".split()


def test_registry_covers_required_ops():
    specs = {s.op_type: s for s in all_specs()}
    missing = [op for op in REQUIRED if op not in specs]
    assert not missing, missing
    for s in specs.values():
        assert s.since >= 1 and s.dtypes
        # Native: the packed layers, and MatMul (float32 products run on the native pool).
        assert s.native == (s.domain == "sparse_runtime" or s.op_type == "MatMul"), s
