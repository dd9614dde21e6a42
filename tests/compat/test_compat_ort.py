"""`import sparse_runtime as ort`: one script body, written for onnxruntime, run against both."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h

try:
    import sparse_runtime
except ImportError:  # bare `pytest` from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import sparse_runtime

onnxruntime = pytest.importorskip("onnxruntime")

from sparse_runtime.models import mlp  # noqa: E402


def _two_input_model():
    """ids int64 [batch, 4] and x float [batch, ?]: y = x @ W + Cast(ids); n = ReduceSum(ids)."""
    w = np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32)
    nodes = [h.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
             h.make_node("Cast", ["ids"], ["idsf"], to=T.FLOAT, name="cast"),
             h.make_node("Add", ["xw", "idsf"], ["y"], name="add"),
             h.make_node("ReduceSum", ["ids"], ["n"], keepdims=0, name="sum")]
    x = h.make_tensor_value_info("x", T.FLOAT, ["batch", None])
    x.type.tensor_type.shape.dim[1].Clear()  # a dim with neither value nor name: unknown
    g = h.make_graph(nodes, "two_inputs", [h.make_tensor_value_info("ids", T.INT64, ["batch", 4]), x],
                     [h.make_tensor_value_info("y", T.FLOAT, ["batch", 4]), h.make_tensor_value_info("n", T.INT64, [])],
                     [onnx.numpy_helper.from_array(w, "W")], doc_string="graph doc")
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="tests", producer_version="1",
                     domain="ai.test", doc_string="model doc", model_version=3)
    m.ir_version = 8
    h.set_model_props(m, {"author": "tests", "license": "none"})
    return m


def script(ort, model_path, feeds, prefix):
    """Serving-style code written against onnxruntime's API; returns what it saw."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_profiling = True
    opts.profile_file_prefix = prefix
    sess = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    seen = {
        "available": "CPUExecutionProvider" in ort.get_available_providers(),
        "providers": sess.get_providers(),
        "inputs": [(i.name, i.shape, i.type) for i in sess.get_inputs()],
        "outputs": [(o.name, o.shape, o.type) for o in sess.get_outputs()],
    }
    meta = sess.get_modelmeta()
    seen["meta"] = (meta.producer_name, meta.graph_name, meta.domain, meta.description, meta.version,
                    meta.custom_metadata_map)
    feed = {i.name: feeds[i.name] for i in sess.get_inputs()}
    seen["all"] = sess.run(None, feed)
    seen["first"] = sess.run([sess.get_outputs()[0].name], feed)
    seen["reversed"] = sess.run([o.name for o in reversed(sess.get_outputs())], feed, ort.RunOptions())
    seen["lists"] = sess.run(None, {k: v.tolist() for k, v in feed.items()})  # converted to the input type
    path = sess.end_profiling()
    with open(path) as f:
        events = json.load(f)
    seen["profile"] = (Path(path).name.startswith(Path(prefix).name), isinstance(events, list),
                       {e["cat"] for e in events} >= {"Session", "Node"},
                       all({"name", "ph", "ts", "dur", "pid", "tid"} <= set(e) for e in events))
    try:
        sess.run(None, {"not_an_input": next(iter(feeds.values()))})
        seen["bad_name"] = "no error"
    except Exception:  # noqa: BLE001 - both raise, each its own exception type
        seen["bad_name"] = "error"
    return seen


def _compare(a, b):
    for key in a:
        if key in ("all", "first", "reversed", "lists"):
            assert len(a[key]) == len(b[key]), key
            for x, y in zip(a[key], b[key]):
                assert x.dtype == y.dtype and x.shape == y.shape, key
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5, err_msg=key)
        else:
            assert a[key] == b[key], f"{key}: onnxruntime {a[key]!r}, sparse_runtime {b[key]!r}"


def test_same_script_two_inputs(tmp_path):
    path = tmp_path / "two.onnx"
    onnx.save(_two_input_model(), path)
    rng = np.random.default_rng(1)
    feeds = {"ids": rng.integers(0, 5, (3, 4)).astype(np.int64),
             "x": np.asfortranarray(rng.standard_normal((3, 4)).astype(np.float32))}  # not C-contiguous
    ref = script(onnxruntime, str(path), feeds, str(tmp_path / "ort"))
    got = script(sparse_runtime, str(path), feeds, str(tmp_path / "sr"))
    assert ref["inputs"][1][1] == ["batch", None]  # what onnxruntime says for an unknown dim
    _compare(ref, got)


def test_same_script_pruned_mlp_from_bytes(tmp_path):
    model = mlp(hidden=64, ffn=256, tokens=8, sparsity=0.9, symbolic=True)
    x = np.random.default_rng(2).standard_normal((5, 64)).astype(np.float32)
    ref = script(onnxruntime, model.SerializeToString(), {"x": x}, str(tmp_path / "ort"))
    got = script(sparse_runtime, model.SerializeToString(), {"x": x}, str(tmp_path / "sr"))
    _compare(ref, got)


def test_lazy_exports():
    import sparse_runtime as ort

    for name in ("InferenceSession", "SessionOptions", "RunOptions", "get_available_providers",
                 "GraphOptimizationLevel", "ExecutionMode", "get_device"):
        assert getattr(ort, name) is getattr(sparse_runtime.ort_compat, name)
    assert ort.get_device() == "CPU"
    with pytest.raises(AttributeError):
        ort.NoSuchThing  # noqa: B018


def test_unknown_provider_warns_and_falls_back(tmp_path):
    model = mlp(hidden=16, ffn=32, tokens=2, sparsity=0.5)
    with pytest.warns(UserWarning, match="CUDAExecutionProvider"):
        sess = sparse_runtime.InferenceSession(model.SerializeToString(),
                                               providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert sess.end_profiling() == ""  # profiling off: onnxruntime returns an empty path too
