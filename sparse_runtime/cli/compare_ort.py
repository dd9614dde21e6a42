"""``--compare onnxruntime``: the same model and inputs through ONNX Runtime, in this process.

ONNX Runtime gets the model as the user gave it (after ``--impose-sparsity``, if any) and as many
intra-op threads as our native pool, so the rows compare runtimes, not thread counts.
"""
from __future__ import annotations

import os

import numpy as np

from ..engine.feeds import BenchError

DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3


def ort_session(model, threads: int, streams: int = 1):
    """``(InferenceSession, label)``; ``model`` is a path or a ModelProto. Raises BenchError with
    the install hint when onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise BenchError("--compare onnxruntime: onnxruntime is not installed "
                         "(pip install onnxruntime, or pip install 'sparse_runtime[compare]')") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.log_severity_level = 3  # warnings about unused initializers etc. are not ours to print
    source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else model.SerializeToString()
    try:
        sess = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - one line for the user, whatever ORT raised
        raise BenchError(f"onnxruntime cannot load the model: {' '.join(str(e).split())[:300]}") from None
    return sess, f"onnxruntime {ort.__version__}"


def ort_runner(sess, feeds: dict, output_names: list):
    names = [o.name for o in sess.get_outputs()]
    missing = [n for n in output_names if n not in names]
    if missing:
        raise BenchError(f"onnxruntime's session has no output(s) {missing}")
    return lambda: sess.run(output_names, feeds)


def check_agreement(ours: list, theirs: list, names: list, atol: float = DEFAULT_ATOL,
                    rtol: float = DEFAULT_RTOL) -> dict:
    """Per output: max abs diff and whether ``|ours - theirs| <= atol + rtol * |theirs|`` holds
    everywhere (numpy.allclose's rule, with ONNX Runtime as the reference)."""
    per, worst, agree = {}, 0.0, True
    for name, a, b in zip(names, ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            per[name] = {"agree": False, "max_abs_diff": None, "why": f"shape {a.shape} vs {b.shape}"}
            agree = False
            continue
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            diff = np.abs(a64 - b64)
            ok = bool(np.all((diff <= atol + rtol * np.abs(b64)) | (np.isnan(a64) & np.isnan(b64))))
        else:
            diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
            ok = bool(np.array_equal(a, b))
        m = float(np.nanmax(diff)) if diff.size else 0.0
        per[name] = {"agree": ok, "max_abs_diff": m}
        worst = max(worst, m)
        agree &= ok
    return {"agree": agree, "max_abs_diff": worst, "atol": atol, "rtol": rtol, "outputs": per}
