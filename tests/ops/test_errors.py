"""Bad attributes / inputs raise OpError naming the node (compile time where possible)."""
import numpy as np
import pytest

from opcheck import build, rand, run_ours
from sparse_runtime.errors import OpError, UnsupportedOpError
from sparse_runtime.ir import Node
from sparse_runtime.ops import OpContext, compile_node

F32 = np.float32
I64 = np.int64


def compile_only(op, n_inputs, attrs, opset=17, n_outputs=1):
    _, node, _ = build(op, [rand((1,))] * n_inputs, attrs, n_outputs, opset)
    return compile_node(node, OpContext(opset=opset))


COMPILE_ERRORS = [  # op, n_inputs, attrs, opset, message fragment
    ("Gelu", 1, {"approximate": "fast"}, 20, "approximate"),
    ("LeakyRelu", 1, {"alpha": "big"}, 17, "alpha"),
    ("Transpose", 1, {"perm": [0, 0, 1]}, 17, "perm"),
    ("Concat", 2, {}, 13, "axis"),
    ("Unsqueeze", 2, {"axes": [0]}, 13, "axes"),
    ("Unsqueeze", 1, {}, 11, "axes"),
    ("Mod", 2, {"fmod": 2}, 13, "fmod"),
    ("Cast", 1, {"to": 9999}, 13, "9999"),
    ("Constant", 0, {"value_int": 1, "value_float": 2.0}, 13, "exactly one"),
    ("Constant", 0, {}, 13, "exactly one"),
    ("ArgMax", 1, {"keepdims": 2}, 13, "keepdims"),
    ("ReduceSum", 1, {"keepdims": -1}, 13, "keepdims"),
    ("ReduceMean", 2, {"axes": [1]}, 18, "axes"),
    ("Conv", 2, {"auto_pad": "SAME"}, 11, "auto_pad"),
    ("Conv", 2, {"group": 0}, 11, "group"),
    ("Conv", 2, {"strides": [0, 1]}, 11, "strides"),
    ("Conv", 2, {"pads": [1, 1, 1, 1], "auto_pad": "VALID"}, 11, "auto_pad"),
    ("MaxPool", 1, {}, 12, "kernel_shape"),
    ("AveragePool", 1, {"kernel_shape": [2, 2], "pads": [1, 1]}, 12, "pads"),
    ("Resize", 4, {"antialias": 1}, 18, "antialias"),
    ("Resize", 4, {"mode": "area"}, 13, "mode"),
    ("LayerNormalization", 2, {"stash_type": 6}, 17, "stash_type"),
    ("DepthToSpace", 1, {"blocksize": 2, "mode": "XYZ"}, 13, "mode"),
    ("DepthToSpace", 1, {}, 13, "blocksize"),
    ("Split", 1, {"num_outputs": 3}, 18, "num_outputs"),
    ("Pad", 2, {"mode": "wrap"}, 13, "mode"),
    ("BatchNormalization", 5, {"training_mode": 1}, 15, "training_mode"),
    ("LRN", 1, {}, 13, "size"),
    ("Einsum", 1, {"equation": "ij,jk->ik"}, 13, "operands"),
    ("Trilu", 1, {"upper": 3}, 14, "upper"),
    ("IsInf", 1, {"detect_negative": 5}, 14, "detect_negative"),
]


@pytest.mark.parametrize("op,n,attrs,opset,frag", COMPILE_ERRORS, ids=[f"{c[0]}-{i}" for i, c in enumerate(COMPILE_ERRORS)])
def test_compile_errors(op, n, attrs, opset, frag):
    with pytest.raises(OpError, match=frag) as e:
        compile_only(op, n, attrs, opset, n_outputs=2 if op == "Split" else 1)
    assert "node 'n0'" in str(e.value) and f"({op})" in str(e.value)
    assert e.value.node.name == "n0"


RUNTIME_ERRORS = [  # op, inputs, attrs, opset, message fragment
    ("Squeeze", [rand((2, 3)), np.array([0], I64)], {}, 13, "squeeze"),
    ("Reshape", [rand((2, 3)), np.array([4, -1], I64)], {}, 13, "reshape"),
    ("Reshape", [rand((2, 3)), np.array([-1, -1], I64)], {}, 13, "-1"),
    ("Softmax", [rand((2, 3))], {"axis": 2}, 13, "axis"),
    ("Conv", [rand((1, 3, 5, 5)), rand((4, 2, 3, 3))], {}, 11, "group"),
    ("Gather", [rand((3, 4)), np.array([5], I64)], {"axis": 0}, 13, "out of range"),
    ("GatherElements", [rand((3, 4)), np.array([[9]], I64)], {}, 13, "out of range"),
    ("Slice", [rand((3, 4)), np.array([0], I64), np.array([2], I64), np.array([0], I64), np.array([0], I64)], {}, 13, "step"),
    ("Split", [rand((5, 2)), np.array([2, 2], I64)], {}, 13, "split sizes"),
    ("TopK", [rand((3, 4)), np.array([9], I64)], {}, 13, "K=9"),
    ("Expand", [rand((3, 4)), np.array([2, 3], I64)], {}, 13, "broadcast"),
    ("MatMul", [rand((3, 4)), rand((5, 6))], {}, 13, "shapes"),
    ("Gemm", [rand((3, 4)), rand((5, 6))], {}, 13, "inner dims"),
    ("Concat", [rand((3, 4)), rand((3, 5))], {"axis": 0}, 13, "concatenate"),
    ("Tile", [rand((3, 4)), np.array([2], I64)], {}, 13, "repeats"),
    ("Pad", [rand((3, 4)), np.array([1, 1], I64)], {}, 13, "pads"),
    ("Resize", [rand((1, 1, 2, 2))], {}, 13, "scales"),
    ("DepthToSpace", [rand((1, 3, 2, 2))], {"blocksize": 2}, 13, "divisible"),
    ("Unsqueeze", [rand((2,)), np.array([0, 0], I64)], {}, 13, "duplicates"),
    ("Dropout", [rand((2,)), np.array(0.5, F32), np.array(True)], {}, 13, "training_mode"),
]


@pytest.mark.parametrize("op,inputs,attrs,opset,frag", RUNTIME_ERRORS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(RUNTIME_ERRORS)])
def test_runtime_errors(op, inputs, attrs, opset, frag):
    with pytest.raises(OpError, match=frag) as e:
        run_ours(op, inputs, attrs, n_outputs=2 if op == "Split" else 1, opset=opset)
    assert "node 'n0'" in str(e.value)


def test_unknown_op():
    with pytest.raises(UnsupportedOpError, match="NoSuchOp"):
        compile_node(Node("NoSuchOp", ["x"], ["y"], name="n0"), OpContext(opset=17))
