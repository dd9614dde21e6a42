"""Calibration: input batches, and the statistics of each layer's input captured with our Engine.

The activations are captured by compiling a copy of the model whose graph outputs are the
activation inputs of the layers (everything else is dead code, removed by the engine's passes).
``lower_linear`` is disabled so the weights are not packed for a model that runs a few batches.

Only running sums are kept per layer, never the activations: the squared L2 norm of every input
feature (Wanda) and, for SparseGPT, ``X^T X`` (the Hessian of the layer's squared output error).
A Conv's features are its im2col patches, ordered (kernel tap, input channel) like the canonical
weight columns of :mod:`.patterns`.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper

CAPTURE_OPTIONS = {"disable_passes": ["lower_linear"]}
DEFAULT_BATCH = 64


class CalibrationError(ValueError):
    """Calibration data missing, unreadable or not matching the model; one line for the user."""


# ------------------------------------------------------------------------------------------ data
def load_npz(path: str, names: list, dtypes: list) -> dict:
    """Arrays of an .npz file, keyed by model input; a single array feeds a single-input model
    whatever its key. Samples run along axis 0."""
    if not os.path.isfile(path):
        raise CalibrationError(f"calibration file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise CalibrationError(f"cannot read calibration file '{path}' as .npz: {e}") from None
    if len(names) == 1 and len(data) == 1 and names[0] not in data:
        data = {names[0]: next(iter(data.values()))}
    missing = [n for n in names if n not in data]
    if missing:
        raise CalibrationError(f"calibration file '{path}' has arrays {sorted(data)}, the model needs "
                               f"inputs {missing}")
    out = {}
    for n, dt in zip(names, dtypes):
        a = data[n]
        dt = np.dtype(dt) if dt is not None else a.dtype
        if a.ndim == 0 or a.shape[0] == 0:
            raise CalibrationError(f"calibration array '{n}' has shape {a.shape}: no samples along axis 0")
        if a.dtype.kind != dt.kind and not (a.dtype.kind in "iu" and dt.kind in "iu"):
            raise CalibrationError(f"calibration array '{n}' has dtype {a.dtype}, the model input is {dt}")
        out[n] = np.ascontiguousarray(a.astype(dt, copy=False))
    counts = {a.shape[0] for a in out.values()}
    if len(counts) > 1:
        raise CalibrationError(f"calibration arrays hold different sample counts {sorted(counts)}")
    return out


def split_batches(data: dict, batch: Optional[int], fixed: bool = False) -> list:
    """Feed dicts of at most ``batch`` samples; exactly ``batch`` when the model fixes its batch
    dimension (``fixed``: a partial last batch is dropped)."""
    n = next(iter(data.values())).shape[0]
    b = batch or DEFAULT_BATCH
    return [{k: np.ascontiguousarray(v[i:i + b]) for k, v in data.items()} for i in range(0, n, b)
            if not fixed or i + b <= n]


def vocabularies(model) -> dict:
    """input name -> rows of the embedding table it indexes (generated ids must stay below)."""
    from ..engine.feeds import vocab_sizes
    from ..loader import load_model

    return vocab_sizes(load_model(model))


def generate(names, shapes, dtypes, samples: int = 64, seed: int = 0, vocab=None) -> dict:
    """Random but valid inputs for a smoke run (same rules as sparse-bench)."""
    from ..engine.feeds import make_inputs

    return make_inputs(names, shapes, dtypes, batch_size=samples, vocab=vocab, seed=seed)


# --------------------------------------------------------------------------------------- capture
def _capture_model(model, names: list):
    """Copy of ``model`` whose outputs are ``names`` (types from shape inference when known)."""
    cap = onnx.ModelProto()
    cap.CopyFrom(model)
    known = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            known[vi.name] = vi
    except Exception:  # inference is a nicety: the engine infers again
        pass
    del cap.graph.output[:]
    for n in dict.fromkeys(names):
        vi = known.get(n)
        if vi is None or not vi.type.tensor_type.elem_type:
            vi = helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
        cap.graph.output.append(vi)
    return cap


def _same_pads(size, k, s, d, upper):
    ext = (k - 1) * d + 1
    total = max((-(-size // s) - 1) * s + ext - size, 0)
    lo = total // 2 if upper else total - total // 2
    return lo, total - lo


def im2col(x: np.ndarray, kernel: tuple, attrs: dict) -> np.ndarray:
    """Conv patches of ``x`` [N, C, *spatial] as rows [N * out_pixels, taps * C], columns ordered
    (tap, channel) to match the canonical weight view."""
    nd = len(kernel)
    strides = attrs.get("strides") or [1] * nd
    dil = attrs.get("dilations") or [1] * nd
    pads = attrs.get("pads") or [0] * (2 * nd)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pp = [_same_pads(x.shape[2 + i], kernel[i], strides[i], dil[i], auto == "SAME_UPPER") for i in range(nd)]
        pads = [p[0] for p in pp] + [p[1] for p in pp]
    elif auto == "VALID":
        pads = [0] * (2 * nd)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + nd]) for i in range(nd)])
    ext = tuple((k - 1) * d + 1 for k, d in zip(kernel, dil))
    win = sliding_window_view(xp, ext, axis=tuple(range(2, 2 + nd)))  # [N, C, *out_full, *ext]
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in strides)
              + tuple(slice(None, None, d) for d in dil)]  # [N, C, *out, *kernel]
    perm = (0,) + tuple(range(2, 2 + 2 * nd)) + (1,)  # -> [N, *out, *kernel, C]
    return win.transpose(perm).reshape(-1, int(np.prod(kernel)) * x.shape[1])


def layer_rows(layer, x: np.ndarray) -> np.ndarray:
    """The layer's input as a 2-D matrix whose columns match the weight's canonical columns."""
    if layer.op == "Conv":
        return im2col(x, layer.shape[2:], layer.attrs)
    if layer.op == "Gemm" and layer.attrs.get("transA", 0):
        return x.T
    k = layer.shape[1] if layer.layout == "NK" else layer.shape[0]
    return x.reshape(-1, k)


class LayerStats:
    """Running sums over calibration rows: per-feature sum of squares, and optionally X^T X."""

    def __init__(self, dim: int, hessian: bool):
        self.sq = np.zeros(dim)
        self.xtx = np.zeros((dim, dim)) if hessian else None
        self.rows = 0

    def add(self, rows: np.ndarray) -> None:
        r = rows.astype(np.float64)
        self.sq += np.einsum("ij,ij->j", r, r)
        if self.xtx is not None:
            self.xtx += r.T @ r
        self.rows += r.shape[0]

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of every input feature over all calibration rows (Wanda's ||X_j||)."""
        return np.sqrt(self.sq)


def capture_stats(model, layers: list, batches: list, hessian: bool) -> dict:
    """weight name -> LayerStats for ``layers``, from running ``model`` on ``batches``."""
    from ..engine import Engine

    if not batches:
        raise CalibrationError("no calibration batches")
    eng = Engine(_capture_model(model, [ly.x for ly in layers]), options=CAPTURE_OPTIONS)
    stats = {}
    for ly in layers:
        dim = int(np.prod(ly.shape[1:])) if ly.op == "Conv" else (ly.shape[1] if ly.layout == "NK" else ly.shape[0])
        stats[ly.weight] = LayerStats(dim, hessian)
    for feeds in batches:
        try:
            outs = eng.run({n: feeds[n] for n in eng.input_names})
        except KeyError as e:
            raise CalibrationError(f"calibration data has no array for model input {e}") from None
        vals = dict(zip(eng.output_names, outs))
        for ly in layers:
            stats[ly.weight].add(layer_rows(ly, vals[ly.x]))
    return stats
