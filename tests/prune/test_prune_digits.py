"""Accuracy on a model trained for real (the digits MLP of examples/prune_digits.py): one-shot
SparseGPT at 50 % and gradual pruning to 90 % stay within 1 point of dense, and the pruned model
predicts the same in our Engine, PyTorch and ONNX Runtime."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from prune_testutil import REPO

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def ex():
    spec = importlib.util.spec_from_file_location("prune_digits", REPO / "examples" / "prune_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def trained(ex, tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # this MLP only loses time to threads
    torch.manual_seed(0)
    try:
        xtr, xte, ytr, yte = ex.load_data(0)
        dense = ex.train(ex.make_mlp(), xtr, ytr, epochs=60, lr=1e-3, seed=0)
        path = ex.export_onnx(dense, (torch.zeros(1, 64),), str(tmp_path_factory.mktemp("digits") / "dense.onnx"))
        yield {"xtr": xtr, "xte": xte, "ytr": ytr, "yte": yte, "dense": dense, "path": path,
                   "acc": ex.accuracy(ex.engine_predict(path, xte), yte)}
    finally:
        torch.set_num_threads(threads)


def test_dense_model_is_trained(trained):
    assert trained["acc"] > 95.0


def test_one_shot_sparsegpt_50_within_one_point(ex, trained):
    from sparse_runtime.prune import prune_model

    t = trained
    res = prune_model(t["path"], 0.5, method="sparsegpt", calibration={"input": t["xtr"][:512]})
    assert res.sparsity == pytest.approx(0.5, abs=0.01)
    acc = ex.accuracy(ex.engine_predict(res.model, t["xte"]), t["yte"])
    assert acc >= t["acc"] - 1.0, (acc, t["acc"])


def test_gradual_90_within_one_point_and_same_predictions_everywhere(ex, trained, tmp_path):
    t = trained
    torch.set_num_threads(1)
    model, pruner = ex.gradual(t["dense"], t["xtr"], t["ytr"], 0.9, seed=0)
    rep = [r for r in pruner.report() if r[3] is None]
    assert 1 - sum(r[2] for r in rep) / sum(r[1] for r in rep) == pytest.approx(0.9, abs=0.005)
    path = ex.export_onnx(model, (torch.zeros(1, 64),), str(tmp_path / "gradual.onnx"))
    ours = ex.engine_predict(path, t["xte"])
    with torch.no_grad():
        theirs = model(torch.from_numpy(t["xte"])).numpy().argmax(1)
    np.testing.assert_array_equal(ours, theirs)
    ort = pytest.importorskip("onnxruntime")
    rt = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": t["xte"]})[0]
    np.testing.assert_array_equal(ours, rt.argmax(1))
    acc = ex.accuracy(ours, t["yte"])
    assert acc >= t["acc"] - 1.0, (acc, t["acc"])
