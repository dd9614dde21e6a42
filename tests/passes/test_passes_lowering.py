"""Lowering to packed kernels, BatchNorm folding and epilogue fusion: the graph shrinks as
expected and the values still match onnx.reference."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from sparse_runtime import Engine

RNG = np.random.default_rng(0)


def _const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def _model(nodes, inits, x_shape, y_name="y", opset=17):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _sparse(shape, density=0.2):
    w = RNG.standard_normal(shape).astype(np.float32)
    w[RNG.random(shape) > density] = 0
    return w


def _check(model, x, **engine_kw):
    eng = Engine(model, **engine_kw)
    got = eng.run([x])[0]
    want = ReferenceEvaluator(model).run(None, {"x": x})[0]
    assert got.dtype == np.float32 and got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= 1e-4 * scale
    return eng


def _ops(eng):
    return [n.op_type for n in eng.graph.nodes]


@pytest.mark.parametrize("fmt", ["auto", "dense", "csr", "bsr4x1", "bsr1x4"])
def test_matmul_bias_relu_becomes_one_node(fmt):
    w, b = _sparse((64, 48)), RNG.standard_normal(48).astype(np.float32)
    model = _model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                    helper.make_node("Add", ["h", "b"], ["hb"]),
                    helper.make_node("Relu", ["hb"], ["y"])],
                   [_const("w", w), _const("b", b)], [2, 5, 64])
    eng = _check(model, RNG.standard_normal((2, 5, 64)).astype(np.float32), options={"weight_format": fmt})
    assert _ops(eng) == ["PackedMatMul"]
    (row,) = eng.report()
    assert row["activation"] == "relu" and row["bias"] and row["source_op"] == "MatMul"
    assert abs(row["sparsity"] - float((w == 0).mean())) < 1e-9
    if fmt != "auto":
        assert row["format"] == fmt


@pytest.mark.parametrize("order", ["x_first", "half_first"])
def test_decomposed_erf_gelu_is_fused(order):
    w, b = _sparse((32, 64)), RNG.standard_normal(64).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h0"]),
             helper.make_node("Add", ["b", "h0"], ["h"]),
             helper.make_node("Div", ["h", "sqrt2"], ["d"]),
             helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["a"])]
    if order == "x_first":
        nodes += [helper.make_node("Mul", ["h", "a"], ["m"]), helper.make_node("Mul", ["m", "half"], ["y"])]
    else:
        nodes += [helper.make_node("Mul", ["h", "half"], ["m"]), helper.make_node("Mul", ["m", "a"], ["y"])]
    inits = [_const("w", w), _const("b", b), _const("sqrt2", np.float32(np.sqrt(2))),
             _const("one", np.float32(1)), _const("half", np.float32(0.5))]
    eng = _check(_model(nodes, inits, [7, 32]), RNG.standard_normal((7, 32)).astype(np.float32))
    assert _ops(eng) == ["PackedMatMul"] and eng.report()[0]["activation"] == "gelu_erf"


def test_gelu_op_and_shared_values_are_respected():
    w = _sparse((16, 16))
    # h feeds both Gelu and the output: fusing would lose h, so the Gelu must stay.
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Gelu", ["h"], ["g"], approximate="tanh"),
             helper.make_node("Add", ["g", "h"], ["y"])]
    eng = _check(_model(nodes, [_const("w", w)], [3, 16], opset=20), RNG.standard_normal((3, 16)).astype(np.float32))
    assert "Gelu" in _ops(eng)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Gelu", ["h"], ["y"], approximate="tanh")]
    eng = _check(_model(nodes, [_const("w", w)], [3, 16], opset=20), RNG.standard_normal((3, 16)).astype(np.float32))
    assert _ops(eng) == ["PackedMatMul"] and eng.report()[0]["activation"] == "gelu_tanh"


@pytest.mark.parametrize("trans_b,alpha,beta,c_shape", [(0, 1.0, 1.0, (24,)), (1, 0.5, 2.0, (1, 24)),
                                                         (1, 1.0, 1.0, None), (0, 2.0, 0.5, (1,))])
def test_gemm_lowering(trans_b, alpha, beta, c_shape):
    w = _sparse((24, 40) if trans_b else (40, 24))
    inputs, inits = ["x", "w"], [_const("w", w)]
    if c_shape:
        inputs.append("c")
        inits.append(_const("c", RNG.standard_normal(c_shape).astype(np.float32)))
    node = helper.make_node("Gemm", inputs, ["y"], transB=trans_b, alpha=alpha, beta=beta)
    eng = _check(_model([node], inits, [6, 40]), RNG.standard_normal((6, 40)).astype(np.float32))
    assert _ops(eng) == ["PackedMatMul"]


def test_gemm_with_full_c_matrix_stays_numpy():
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"])
    inits = [_const("w", _sparse((8, 4))), _const("c", np.ones((6, 4), np.float32))]
    eng = _check(_model([node], inits, [6, 8]), RNG.standard_normal((6, 8)).astype(np.float32))
    assert _ops(eng) == ["Gemm"]


def test_conv_batchnorm_relu_fold_into_one_packed_conv():
    w = _sparse((16, 8, 3, 3), 0.3)
    bn = [np.abs(RNG.standard_normal(16)).astype(np.float32) + 0.5, RNG.standard_normal(16).astype(np.float32),
          RNG.standard_normal(16).astype(np.float32), np.abs(RNG.standard_normal(16)).astype(np.float32) + 0.1]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
             helper.make_node("Relu", ["n"], ["y"])]
    inits = [_const("w", w)] + [_const(k, v) for k, v in zip(["s", "bb", "m", "v"], bn)]
    eng = _check(_model(nodes, inits, [2, 8, 15, 15]), RNG.standard_normal((2, 8, 15, 15)).astype(np.float32))
    assert _ops(eng) == ["PackedConv"]
    row = eng.report()[0]
    assert row["activation"] == "relu" and row["bias"]
    assert abs(row["sparsity"] - float((w == 0).mean())) < 1e-9  # folding keeps zeros zero


@pytest.mark.parametrize("attrs,x_shape,w_shape", [
    ({"auto_pad": "SAME_UPPER", "strides": [2, 2]}, [1, 4, 9, 10], (8, 4, 3, 3)),
    ({"auto_pad": "SAME_LOWER"}, [1, 4, 8, 8], (8, 4, 2, 2)),
    ({"group": 2, "dilations": [2, 2], "pads": [2, 2, 2, 2]}, [1, 6, 9, 9], (16, 3, 3, 3)),
    ({"pads": [1, 2], "strides": [2]}, [2, 5, 20], (12, 5, 4)),  # 1-D
])
def test_conv_variants(attrs, x_shape, w_shape):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    inits = [_const("w", _sparse(w_shape, 0.4)), _const("b", RNG.standard_normal(w_shape[0]).astype(np.float32))]
    eng = _check(_model([node], inits, x_shape), RNG.standard_normal(x_shape).astype(np.float32))
    assert _ops(eng) == ["PackedConv"]


def test_non_constant_weight_is_left_to_numpy():
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 4]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    eng = Engine(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert _ops(eng) == ["MatMul"] and eng.report() == []


def test_residual_add_and_relu_fuse_into_the_conv_even_when_the_shortcut_comes_later():
    # ResNet's projection block as exporters order it: main branch first, shortcut conv after.
    w1, w2 = _sparse((8, 4, 3, 3), 0.4), _sparse((8, 4, 1, 1), 0.6)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["main"], pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["x", "w2"], ["short"]),
             helper.make_node("Add", ["main", "short"], ["sum"]),
             helper.make_node("Relu", ["sum"], ["y"])]
    eng = _check(_model(nodes, [_const("w1", w1), _const("w2", w2)], [2, 4, 6, 6]),
                 RNG.standard_normal((2, 4, 6, 6)).astype(np.float32))
    assert _ops(eng) == ["PackedConv", "PackedConv"]
    last = eng.graph.nodes[-1]
    assert len(last.inputs) == 2 and last.attrs["activation"] == "relu"


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("tokens", [1, 5, 70])
def test_residual_add_fuses_into_matmul(fmt, tokens):
    w, b = _sparse((16, 16)), RNG.standard_normal(16).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Add", ["x", "hb"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    eng = _check(_model(nodes, [_const("w", w), _const("b", b)], [tokens, 16]),
                 RNG.standard_normal((tokens, 16)).astype(np.float32), options={"weight_format": fmt})
    assert _ops(eng) == ["PackedMatMul"]
    (node,) = eng.graph.nodes
    assert node.inputs == ["x", "x"] and node.attrs["activation"] == "relu"


def test_broadcasting_residual_still_matches():
    w = _sparse((16, 16))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "r"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 16]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[_const("w", w)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x, r = RNG.standard_normal((3, 16)).astype(np.float32), RNG.standard_normal((1, 16)).astype(np.float32)
    got = Engine(model).run([x, r])[0]
    want = ReferenceEvaluator(model).run(None, {"x": x, "r": r})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
