"""Engine: compile once, run with validated inputs, errors that name inputs and nodes."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper as h

from engine_models import (assert_matches, mlp, model, reference, tensor, torch_reshape_chain,
                           two_inputs, vi)
import sparse_runtime
from sparse_runtime import Engine
from sparse_runtime.errors import InputError, OpError, UnsupportedOpError

RNG = np.random.default_rng(42)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.fixture(scope="module")
def mlp_engine():
    m = mlp()
    return m, Engine(m)


def test_top_level_engine_is_the_session_class():
    assert sparse_runtime.Engine is Engine


def test_run_matches_reference_list_and_dict(mlp_engine):
    m, eng = mlp_engine
    x = f32(5, 4)
    expected = reference(m, {"x": x})
    assert_matches(eng.run([x]), expected)
    assert_matches(eng.run((x,)), expected)
    assert_matches(eng.run({"x": x}), expected)
    assert_matches(eng([x]), expected)  # __call__ is run


def test_properties(mlp_engine):
    _, eng = mlp_engine
    assert eng.input_names == ["x"]
    assert eng.output_names == ["y", "z"]
    assert eng.input_shapes == [("N", 4)]
    assert eng.input_dtypes == [np.dtype(np.float32)]
    assert eng.output_shapes == [("N", 3), ("N", 3)]
    assert eng.output_dtypes == [np.dtype(np.float32)] * 2
    assert eng.graph.nodes and all(n.op_type != "Constant" for n in eng.graph.nodes)


def test_multiple_inputs_dict_order_irrelevant():
    m = two_inputs()
    eng = Engine(m)
    a, b = f32(2, 5), f32(2, 5)
    expected = reference(m, {"input_ids": a, "mask": b})
    assert_matches(eng.run({"mask": b, "input_ids": a}), expected)
    assert_matches(eng.run([a, b]), expected)


# ------------------------------------------------------------------------------- bad inputs

@pytest.fixture(scope="module")
def two():
    return Engine(two_inputs())


def test_missing_input(two):
    with pytest.raises(InputError, match=r"missing input.*'mask'"):
        two.run({"input_ids": f32(2, 5)})


def test_unknown_input_suggests_close_name(two):
    with pytest.raises(InputError, match=r"unknown input 'input_id'.*did you mean 'input_ids'"):
        two.run({"input_id": f32(2, 5), "mask": f32(2, 5)})


def test_extra_input(two):
    with pytest.raises(InputError, match=r"unknown input 'extra'"):
        two.run({"input_ids": f32(2, 5), "mask": f32(2, 5), "extra": f32(1)})


def test_wrong_count_in_list(two):
    with pytest.raises(InputError, match=r"expected 2 input.*got a list of 1"):
        two.run([f32(2, 5)])
    with pytest.raises(InputError, match=r"expected 2 input.*of 3"):
        two.run([f32(2, 5)] * 3)


def test_wrong_dtype_no_silent_cast(two):
    with pytest.raises(InputError, match=r"input 'mask'.*expected dtype float32, got float64"):
        two.run([f32(2, 5), np.ones((2, 5))])


def test_wrong_rank(two):
    with pytest.raises(InputError, match=r"input 'input_ids'.*expected rank 2.*got rank 3"):
        two.run([f32(1, 2, 5), f32(2, 5)])


def test_wrong_static_dim(two):
    with pytest.raises(InputError, match=r"input 'mask'.*dimension 1 must be 5.*\(2, 6\)"):
        two.run([f32(2, 5), f32(2, 6)])


def test_not_a_numpy_array(two):
    with pytest.raises(InputError, match=r"input 'input_ids'.*numpy.ndarray, got list"):
        two.run([[[0.0] * 5] * 2, f32(2, 5)])


def test_non_contiguous_array(two):
    x = f32(5, 2).T  # a transposed view
    with pytest.raises(InputError, match=r"input 'input_ids'.*C-contiguous.*ascontiguousarray"):
        two.run([x, f32(2, 5)])
    two.run([np.ascontiguousarray(x), f32(2, 5)])


def test_bare_array_and_wrong_container(two):
    with pytest.raises(InputError, match="bare ndarray"):
        two.run(f32(2, 5))
    with pytest.raises(InputError, match="list.*dict"):
        two.run("input_ids")


# -------------------------------------------------------------------------------- batch size

def test_batch_size_overrides_symbolic_dim():
    m = mlp()
    eng = Engine(m, batch_size=4)
    assert eng.input_shapes == [(4, 4)]
    assert eng.output_shapes == [(4, 3), (4, 3)]
    x = f32(4, 4)
    assert_matches(eng.run([x]), reference(m, {"x": x}))
    with pytest.raises(InputError, match=r"input 'x'.*dimension 0 must be 4.*batch_size=4"):
        eng.run([f32(3, 4)])


def test_batch_size_overrides_static_dim_through_shape_chain():
    # Static batch 2 in the file, overridden to 5: the folded Shape chain must use 5, not 2.
    eng = Engine(torch_reshape_chain(batch=2), batch_size=5)
    assert eng.input_shapes == [(5, 3, 4)]
    assert not any(n.op_type == "Shape" for n in eng.graph.nodes)
    x = f32(5, 3, 4)
    assert_matches(eng.run([x]), reference(torch_reshape_chain(batch=5), {"x": x}))


def test_bad_batch_size():
    with pytest.raises(Exception, match="batch_size"):
        Engine(mlp(), batch_size=0)


# ---------------------------------------------------------------------- compile/run errors

def test_unknown_domain_op_fails_at_engine_creation():
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"),
             h.make_node("FancyOp", ["r"], ["y"], name="fancy", domain="com.example")]
    m = model(nodes, [vi("x", [2])], [vi("y", [2])], extra_opsets=[h.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedOpError, match=r"'fancy'.*FancyOp.*com.example"):
        Engine(m)


def test_kernel_error_at_run_time_names_node():
    # Reshape to a runtime shape that does not fit: only detectable at run time.
    nodes = [h.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")]
    m = model(nodes, [vi("x", [2, 3]), vi("s", [2], T.INT64)], [vi("y", None)])
    eng = Engine(m)
    with pytest.raises(OpError, match=r"bad_reshape.*Reshape"):
        eng.run([f32(2, 3), np.array([4, 4], np.int64)])
    assert_matches(eng.run([np.ones((2, 3), np.float32), np.array([3, 2], np.int64)]),
                   [np.ones((3, 2), np.float32)])


@pytest.fixture
def boom_op():
    """A test-only op whose kernel raises a plain (non-sparse_runtime) exception."""
    from sparse_runtime.ops import registry

    @registry.register("Boom", domain="test.boom")
    def boom(node, ctx):
        def kernel(inputs):
            raise ZeroDivisionError("kaboom")
        return kernel

    yield
    registry._REGISTRY.pop(("test.boom", "Boom"))


def test_plain_kernel_exception_is_wrapped_with_node_and_chained(boom_op):
    nodes = [h.make_node("Relu", ["x"], ["r"], name="relu"),
             h.make_node("Boom", ["r"], ["y"], name="exploder", domain="test.boom")]
    m = model(nodes, [vi("x", [2])], [vi("y", [2])], extra_opsets=[h.make_opsetid("test.boom", 1)])
    eng = Engine(m)
    with pytest.raises(OpError, match=r"node 'exploder' \(Boom\).*ZeroDivisionError: kaboom") as info:
        eng.run([f32(2)])
    assert isinstance(info.value.__cause__, ZeroDivisionError)


# ------------------------------------------------------------------------------------- misc

def test_constant_output_is_a_copy():
    nodes = [h.make_node("Relu", ["x"], ["y"], name="relu"),
             h.make_node("Constant", [], ["k"], name="k", value=tensor("kv", np.arange(3, dtype=np.float32)))]
    eng = Engine(model(nodes, [vi("x", [3])], [vi("y", [3]), vi("k", [3])]))
    _, k = eng.run([f32(3)])
    k[:] = 100
    _, k2 = eng.run([f32(3)])
    np.testing.assert_array_equal(k2, np.arange(3, dtype=np.float32))


def test_input_passed_through_to_output():
    nodes = [h.make_node("Identity", ["x"], ["y"], name="id")]
    eng = Engine(model(nodes, [vi("x", [3])], [vi("y", [3])]))
    x = f32(3)
    np.testing.assert_array_equal(eng.run([x])[0], x)


def test_intermediates_are_freed_after_last_use():
    # Unlowered, so the MatMul/Add intermediates exist (lowering fuses them into one kernel).
    eng = Engine(mlp(), options={"disable_passes": ["lower_linear", "fuse_epilogue"]})
    freed = {name for step in eng.plan.meta for name in step["frees"]}
    assert {"xw", "pre"} <= freed  # intermediates
    assert not freed & {"y", "z", "w", "b", "two"}  # outputs and constants stay


def test_debug_mode_runs_and_threads_accepted():
    m = mlp()
    eng = Engine(m, debug=True, threads=2)
    x = f32(2, 4)
    assert_matches(eng.run([x]), reference(m, {"x": x}))
    with pytest.raises(ValueError, match="threads"):
        Engine(m, threads=0)


def test_report_and_summary(mlp_engine):
    _, eng = mlp_engine
    assert isinstance(eng.report(), list)
    for row in eng.report():
        assert set(row) == {"name", "op", "kernel", "format", "sparsity", "weight_shape", "source_op",
                            "activation", "bias"}
    text = eng.summary()
    assert "x[N, 4] float32" in text and "y[N, 3]" in text
    assert repr(eng) == text


def test_report_reads_kernel_info_of_lowered_nodes(mlp_engine):
    from sparse_runtime.ir import Node
    _, eng = mlp_engine
    g = eng.graph.copy()
    info = {"kernel": "f32-csrmm-avx512", "format": "csr", "sparsity": 0.9, "weight_shape": (4, 3),
            "source_op": "MatMul"}
    g.nodes.append(Node("PackedMatMul", ["x"], ["q"], name="packed0", domain="sparse_runtime",
                        attrs={"kernel_info": info}))
    eng2 = object.__new__(Engine)
    eng2.__dict__.update(eng.__dict__)
    eng2._graph = g
    # The mlp's own MatMul is lowered too; the hand-made node is reported from its kernel_info.
    assert eng2.report()[-1] == dict(name="packed0", op="PackedMatMul", activation="none", bias=False, **info)
    assert "f32-csrmm-avx512" in eng2.summary() and "90.0%" in eng2.summary()


def test_threads_configure_native_pool_when_available(monkeypatch):
    import sys
    import types
    calls = []
    fake = types.ModuleType("sparse_runtime.kernels")
    fake.set_num_threads = calls.append
    monkeypatch.setitem(sys.modules, "sparse_runtime.kernels", fake)
    monkeypatch.setattr(sparse_runtime, "kernels", fake, raising=False)
    Engine(mlp(), threads=3)
    assert calls == [3]
