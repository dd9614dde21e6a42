"""prune_model on whole ONNX models: layer selection and exclusions, calibration captured with our
Engine, scopes, and outputs that our Engine and ONNX Runtime run alike."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from prune_testutil import cnn_model, hetero_inputs, mlp_model, ort_run, rnd, weights

from sparse_runtime.engine import Engine
from sparse_runtime.prune import CalibrationError, prune_model
from sparse_runtime.prune.calibration import capture_stats, im2col
from sparse_runtime.prune.layers import find_layers
from sparse_runtime.prune.oneshot import calibration_batches


@pytest.fixture(scope="module")
def mlp():
    return mlp_model()


@pytest.fixture(scope="module")
def cnn():
    return cnn_model()


def by_name(res):
    return {r.name: r for r in res.layers}


def test_layers_layouts_and_default_exclusions(mlp, cnn):
    ls = {ly.name: ly for ly in find_layers(mlp)}
    assert (ls["fc1/MatMul"].layout, ls["fc2/Gemm"].layout, ls["head/Gemm"].layout) == ("KN", "NK", "KN")
    assert ls["head/Gemm"].excluded == "classifier" and ls["fc1/MatMul"].excluded is None
    assert ls["fc1/MatMul"].x == "x"  # the first layer reads a graph input
    cs = {ly.name: ly.excluded for ly in find_layers(cnn)}
    assert cs == {"conv1": "first conv", "conv2": None, "conv3": None, "head": "classifier"}
    cs = {ly.name: ly.excluded for ly in find_layers(cnn, include_first_conv=True, include_classifier=True)}
    assert set(cs.values()) == {None}


def test_exclude_by_regex_and_op_type(cnn):
    res = prune_model(cnn, 0.5, exclude=[r"conv3"])
    assert by_name(res)["conv3"].excluded.startswith("--exclude") and by_name(res)["conv3"].sparsity == 0
    assert by_name(res)["conv2"].sparsity == pytest.approx(0.5)
    res = prune_model(cnn, 0.5, exclude_ops=["Conv"], include_classifier=True)
    assert [r.name for r in res.pruned] == ["head"]
    res = prune_model(cnn, 0.5, exclude="cw2")  # matches the weight name too
    assert [r.name for r in res.pruned] == ["conv3"]


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("pattern", ["unstructured", "4x1", "1x4", "2:4", "channel"])
def test_pruned_models_run_in_engine_and_onnxruntime(mlp, method, pattern):
    x = hetero_inputs(96, 32, seed=3)
    s = 0.5 if pattern == "2:4" else 0.75
    res = prune_model(mlp, s, pattern=pattern, method=method, calibration={"x": x})
    assert res.model is not mlp and weights(mlp)["w1"].any()  # the input model is not modified
    onnx.checker.check_model(res.model)
    for r in res.pruned:
        assert r.method == method and r.sparsity == pytest.approx(s, abs=0.02)
    assert by_name(res)["head/Gemm"].sparsity == 0
    y = Engine(res.model).run([x])[0]
    np.testing.assert_allclose(y, ort_run(res.model, x), rtol=1e-4, atol=1e-4)


def test_conv_model_with_every_method(cnn):
    x = rnd((40, 1, 8, 8), 4)
    dense = Engine(cnn).run([x])[0]
    errs = {}
    for method in ("magnitude", "wanda", "sparsegpt"):
        res = prune_model(cnn, 0.6, method=method, calibration={"x": x})
        assert by_name(res)["conv1"].sparsity == 0 and by_name(res)["conv2"].sparsity == pytest.approx(0.6, abs=0.01)
        y = Engine(res.model).run([x])[0]
        np.testing.assert_allclose(y, ort_run(res.model, x), rtol=1e-4, atol=1e-4)
        errs[method] = float(np.mean((y - dense) ** 2))
    assert errs["sparsegpt"] < errs["magnitude"], errs


def test_captured_statistics_match_numpy(mlp, cnn):
    """The Engine-captured inputs of each layer equal a numpy forward pass."""
    x = hetero_inputs(50, 32, seed=5)
    w = weights(mlp)
    layers = [ly for ly in find_layers(mlp, include_classifier=True)]
    st = capture_stats(mlp, layers, [{"x": x[:30]}, {"x": x[30:]}], hessian=True)
    h1 = np.maximum(x @ w["w1"] + w["b1"], 0)
    h2 = np.maximum(h1 @ w["w2"].T + w["b2"], 0)
    for ly, act in zip(layers, (x, h1, h2)):
        np.testing.assert_allclose(st[ly.weight].xtx, act.T.astype(np.float64) @ act, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(st[ly.weight].norms, np.linalg.norm(act, axis=0), rtol=1e-5)
        assert st[ly.weight].rows == 50
    xi = rnd((3, 1, 8, 8), 6)
    conv = [ly for ly in find_layers(cnn, include_first_conv=True) if ly.name == "conv1"]
    st = capture_stats(cnn, conv, [{"x": xi}], hessian=False)
    rows = im2col(xi, (3, 3), {"pads": [1, 1, 1, 1]})
    np.testing.assert_allclose(st["cw1"].sq, (rows.astype(np.float64) ** 2).sum(0), rtol=1e-5)


def test_global_scope_is_one_threshold(mlp):
    res = prune_model(mlp, 0.8, scope="global")
    w0, w1 = weights(mlp), weights(res.model)
    kept = np.concatenate([np.abs(w0[k])[w1[k] != 0] for k in ("w1", "w2")])
    gone = np.concatenate([np.abs(w0[k])[w1[k] == 0] for k in ("w1", "w2")])
    assert gone.max() <= kept.min()
    assert res.sparsity == pytest.approx(0.8, abs=1e-3)
    assert by_name(res)["fc1/MatMul"].target != by_name(res)["fc2/Gemm"].target
    # activation-aware methods reuse the same per-layer allocation
    res2 = prune_model(mlp, 0.8, scope="global", method="wanda", calibration={"x": hetero_inputs(64, 32)})
    assert [r.target for r in res2.pruned] == [r.target for r in res.pruned]


def test_sequential_captures_after_upstream_layers_are_pruned(mlp):
    x = hetero_inputs(128, 32, seed=8)
    dense = Engine(mlp).run([x])[0]
    err = {}
    for seq in (True, False):
        res = prune_model(mlp, 0.8, method="sparsegpt", calibration={"x": x}, sequential=seq)
        err[seq] = float(np.mean((Engine(res.model).run([x])[0] - dense) ** 2))
    assert err[True] != err[False]  # fc2 saw different (pruned) inputs
    assert err[True] < 1.5 * err[False]


def test_calibration_sources(tmp_path, mlp):
    x = hetero_inputs(70, 32)
    np.savez(tmp_path / "c.npz", anything=x)  # one input, one array: the key does not matter
    b = calibration_batches(mlp, str(tmp_path / "c.npz"), batch=32)
    assert [len(f["x"]) for f in b] == [32, 32, 6]
    notes = []
    b = calibration_batches(mlp, None, samples=16, notes=notes)
    assert b[0]["x"].shape == (16, 32) and "random" in notes[0]
    np.savez(tmp_path / "bad.npz", a=x, b=x)
    with pytest.raises(CalibrationError, match="needs inputs"):
        calibration_batches(mlp, str(tmp_path / "bad.npz"))
    with pytest.raises(CalibrationError, match="does not exist"):
        calibration_batches(mlp, str(tmp_path / "missing.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CalibrationError, match="cannot read"):
        calibration_batches(mlp, str(tmp_path / "junk.npz"))
    np.savez(tmp_path / "int.npz", x=np.zeros((4, 32), np.int64))
    with pytest.raises(CalibrationError, match="dtype"):
        calibration_batches(mlp, str(tmp_path / "int.npz"))


def test_grouped_conv_falls_back_to_magnitude():
    from onnx import TensorProto, helper, numpy_helper

    w1, w2 = rnd((8, 1, 3, 3), 1), rnd((8, 2, 3, 3), 2)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="stem", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2"], ["y"], name="grouped", group=4, pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8, 6, 6])],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    res = prune_model(m, 0.5, method="sparsegpt", include_classifier=True, calibration={"x": rnd((4, 1, 6, 6))})
    assert by_name(res)["grouped"].method == "magnitude (grouped conv)"
    assert by_name(res)["grouped"].sparsity == pytest.approx(0.5)


def test_bad_arguments(mlp):
    with pytest.raises(ValueError, match="unknown method"):
        prune_model(mlp, 0.5, method="obs")
    with pytest.raises(ValueError, match="unknown scope"):
        prune_model(mlp, 0.5, scope="model")
    with pytest.raises(ValueError, match="needs a sparsity"):
        prune_model(mlp, None)
    assert prune_model(mlp, None, pattern="2:4").sparsity == pytest.approx(0.5)


def test_encoder_with_int_inputs_generated_calibration_and_shared_passes(monkeypatch):
    """A BERT-shaped encoder: ids/mask inputs are generated validly, the last FFN is not taken for a
    classifier, and Q/K/V share one calibration pass (4 passes per layer: QKV, out, FFN1, FFN2)."""
    from sparse_runtime.models import bert_encoder
    from sparse_runtime.prune import calibration

    m = bert_encoder(layers=2, hidden=32, heads=2, ffn=64, seq=8, batch=1, sparsity=0.0, vocab=50)
    passes = []
    real = calibration.capture_stats
    monkeypatch.setattr(calibration, "capture_stats", lambda *a, **k: passes.append(1) or real(*a, **k))
    res = prune_model(m, 0.5, method="wanda", calib_samples=4)
    assert len(res.pruned) == 12 and not [r for r in res.layers if r.excluded]
    assert len(passes) == 8
    assert res.sparsity == pytest.approx(0.5)
    Engine(res.model).run({"input_ids": np.zeros((1, 8), np.int64), "attention_mask": np.ones((1, 8), np.int64)})
