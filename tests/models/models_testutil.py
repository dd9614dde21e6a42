"""Shared helpers of tests/models (a uniquely named module: tests/ has no __init__.py files)."""
from __future__ import annotations

import numpy as np
import onnx

TOL = 1e-4  # max|a - b| <= TOL * max(1, max|ref|)


def assert_close(out, ref, tol: float = TOL, what: str = "output"):
    """Same shape and dtype, finite, and max abs error within tol relative to the output's scale."""
    out = np.asarray(out)
    ref = np.asarray(ref)
    assert out.shape == ref.shape, f"{what}: shape {out.shape}, expected {ref.shape}"
    assert out.dtype == ref.dtype, f"{what}: dtype {out.dtype}, expected {ref.dtype}"
    assert np.all(np.isfinite(ref)), f"{what}: the oracle itself is not finite"
    assert np.all(np.isfinite(out)), f"{what}: non-finite values"
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    err = float(np.abs(out.astype(np.float64) - ref.astype(np.float64)).max()) if ref.size else 0.0
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol:g} * {scale:.3g}"


def ref_run(model: onnx.ModelProto, feeds: dict) -> list:
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(model).run(None, feeds)


def ort_run(model: onnx.ModelProto, feeds: dict) -> list:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    # ORT_DISABLE_ALL: the oracle must not fuse GELU/LayerNorm/attention into its own approximations.
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def engine_run(model, feeds: dict, **engine_kwargs):
    """Build an Engine (fails loudly while sparse_runtime.engine does not exist yet) and run it."""
    from sparse_runtime import Engine

    eng = Engine(model, **engine_kwargs)
    return eng, eng.run(feeds)


def bert_feeds(batch: int, seq: int, vocab: int, seed: int = 0, pad: bool = True,
               token_type_ids: bool = False) -> dict:
    """input_ids in [0, vocab), attention_mask with the last quarter of the last row padded."""
    rng = np.random.default_rng(seed)
    feeds = {"input_ids": rng.integers(0, vocab, (batch, seq), dtype=np.int64)}
    mask = np.ones((batch, seq), np.int64)
    if pad:
        mask[-1, seq - max(1, seq // 4):] = 0
    feeds["attention_mask"] = mask
    if token_type_ids:
        tt = np.zeros((batch, seq), np.int64)
        tt[:, seq // 2:] = 1
        feeds["token_type_ids"] = tt
    return feeds


def randn(shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def initializers(model: onnx.ModelProto) -> dict:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
