"""One-shot post-training pruning of an ONNX model: ``prune_model``.

Order of work:
1. find the prunable layers and the excluded ones (:mod:`.layers`);
2. give each layer its target sparsity (``scope="layer"``: the same; ``"global"``: :mod:`.allocate`);
3. magnitude: prune every layer from its weights alone. Wanda / SparseGPT: capture calibration
   statistics with our Engine and prune layer by layer. With ``sequential=True`` (the default,
   as in both papers) a layer's statistics are captured only after every layer upstream of it is
   pruned, so it compensates the errors already made; layers that do not depend on each other (Q,
   K and V of an attention block) share one capture. That costs one engine pass over the
   calibration data per "depth" of the layer graph.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import helper

from . import calibration as calib
from .allocate import allocate_global
from .layers import find_layers, weight_array
from .methods import METHODS, NEEDS_CALIBRATION, get
from .patterns import canonical, check_sparsity
from .storage import densify, set_weight

SCOPES = ("layer", "global")
HESSIAN_BUDGET_BYTES = 1 << 30  # at most this much X^T X held at once; more layers: more passes


@dataclass
class LayerReport:
    name: str
    op: str
    weight: str
    shape: tuple
    params: int
    nonzeros: int
    target: Optional[float] = None  # sparsity asked of this layer (None: not pruned)
    method: Optional[str] = None
    excluded: Optional[str] = None
    note: str = ""

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzeros / self.params if self.params else 0.0


@dataclass
class PruneResult:
    model: onnx.ModelProto
    layers: list
    notes: list = field(default_factory=list)

    @property
    def pruned(self) -> list:
        return [r for r in self.layers if r.excluded is None]

    @property
    def sparsity(self) -> float:
        """Sparsity over the pruned layers' weights."""
        p = sum(r.params for r in self.pruned)
        return 1.0 - sum(r.nonzeros for r in self.pruned) / p if p else 0.0


def _load(model):
    if isinstance(model, onnx.ModelProto):
        m = onnx.ModelProto()
        m.CopyFrom(model)
        return m
    path = os.fspath(model)
    from ..loader import load_model

    load_model(path)  # validates, with the loader's clear errors, before we touch the proto
    return onnx.load(path)


def model_inputs(model) -> list:
    """(name, shape with None/str for symbolic dims, numpy dtype) of the real inputs."""
    inits = {t.name for t in model.graph.initializer} | {s.values.name for s in model.graph.sparse_initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim) \
            if tt.HasField("shape") else None
        out.append((vi.name, shape, np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))))
    return out


def calibration_batches(model, calibration=None, samples: int = 64, batch: Optional[int] = None,
                        seed: int = 0, notes: Optional[list] = None) -> list:
    """Feed dicts from ``calibration`` (an .npz path or a dict name -> array, samples along axis 0),
    or generated random inputs when it is None (a smoke run; noted in ``notes``)."""
    ins = model_inputs(model)
    names, shapes, dtypes = [i[0] for i in ins], [i[1] for i in ins], [i[2] for i in ins]
    static = {s[0] for s in shapes if s and isinstance(s[0], int) and s[0] > 0}
    fixed = static.pop() if len(static) == 1 else None
    if calibration is None:
        vocab = calib.vocabularies(model)
        data = calib.generate(names, shapes, dtypes, samples=fixed or samples, seed=seed, vocab=vocab)
        if notes is not None:
            notes.append(f"no calibration data given: using {samples} random samples (a smoke run; pass "
                         "real inputs for real accuracy)")
        if fixed:  # a model with a fixed batch: several generated batches
            extra = [calib.generate(names, shapes, dtypes, samples=fixed, seed=seed + i, vocab=vocab)
                     for i in range(1, max(1, samples // fixed))]
            data = {k: np.concatenate([data[k]] + [e[k] for e in extra]) for k in data}
    elif isinstance(calibration, dict):
        data = {}
        for n, dt in zip(names, dtypes):
            if n not in calibration:
                raise calib.CalibrationError(f"calibration data has no array for model input '{n}'")
            data[n] = np.ascontiguousarray(np.asarray(calibration[n]).astype(dt, copy=False))
    else:
        data = calib.load_npz(os.fspath(calibration), names, dtypes)
    batches = calib.split_batches(data, fixed or batch, fixed=bool(fixed))
    if not batches:
        raise calib.CalibrationError(f"calibration data has fewer samples than the model's fixed batch {fixed}")
    return batches


def _upstream(model, layers: list) -> dict:
    """weight name -> weights of the layers whose output reaches that layer's input."""
    node_layer = {ly.index: ly.weight for ly in layers}
    ups = {}
    for i, n in enumerate(model.graph.node):  # ONNX graphs are topologically sorted
        u = set()
        for x in n.input:
            u |= ups.get(x, set())
        if i in node_layer:
            u = u | {node_layer[i]}
        for o in n.output:
            ups[o] = u
    return {ly.weight: ups.get(ly.x, set()) - {ly.weight} for ly in layers}


def _hessian_chunks(layers: list, hessian: bool) -> list:
    if not hessian:
        return [layers]
    chunks, cur, used = [], [], 0
    for ly in layers:
        b = int(np.prod(ly.shape[1:]) if ly.op == "Conv" else ly.shape[0 if ly.layout == "KN" else 1]) ** 2 * 8
        if cur and used + b > HESSIAN_BUDGET_BYTES:
            chunks.append(cur)
            cur, used = [], 0
        cur.append(ly)
        used += b
    return chunks + [cur] if cur else chunks


def prune_model(model, sparsity: Optional[float] = None, *, pattern: str = "unstructured",
                method: str = "magnitude", scope: str = "layer", exclude=None, exclude_ops=(),
                include_first_conv: bool = False, include_classifier: bool = False, calibration=None,
                calib_samples: int = 64, batch: Optional[int] = None, sequential: bool = True,
                blocksize: int = 128, damp: float = 0.01, seed: int = 0,
                progress: Optional[Callable[[int, int, str], None]] = None) -> PruneResult:
    """Prune ``model`` (path or ``onnx.ModelProto``, not modified) once, without training.

    ``pattern``: unstructured | 4x1 | 1x4 | 2:4 | channel. ``method``: magnitude | wanda | sparsegpt.
    ``scope``: layer (each layer at ``sparsity``) or global (one magnitude threshold across layers).
    ``calibration``: .npz path or dict name -> array (samples along axis 0) for wanda/sparsegpt;
    None generates random inputs. ``progress(done, total, layer_name)`` is called per layer.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {SCOPES}")
    s = check_sparsity(sparsity, pattern)
    m = _load(model)
    notes = []
    if densify(m):
        notes.append("sparse initializers of the input model were made dense")
    layers = find_layers(m, exclude, exclude_ops, include_first_conv, include_classifier)
    active = [ly for ly in layers if ly.excluded is None]
    weights = {ly.weight: weight_array(m, ly.weight) for ly in active}
    if scope == "global":
        shares = allocate_global([canonical(np.abs(weights[ly.weight]), ly.layout) for ly in active], s, pattern)
    else:
        shares = [s] * len(active)
    target = {ly.weight: t for ly, t in zip(active, shares)}
    used = {}

    def finish(ly, how, w_new):
        set_weight(m, ly.weight, w_new)
        used[ly.weight] = how
        if progress:
            progress(len(used), len(active), ly.name)

    plain = [ly for ly in active if method not in NEEDS_CALIBRATION or int(ly.attrs.get("group", 1)) != 1]
    for ly in plain:
        how = "magnitude" if method == "magnitude" else "magnitude (grouped conv)"
        finish(ly, how, get("magnitude")(weights[ly.weight], target[ly.weight], pattern, ly.layout))
    todo = [ly for ly in active if ly not in plain]
    if todo:
        batches = calibration_batches(m, calibration, calib_samples, batch, seed, notes)
        fn, hessian = get(method), method == "sparsegpt"
        ups = _upstream(m, todo)
        while todo:
            waiting = {ly.weight for ly in todo}
            ready = [ly for ly in todo if not (sequential and ups[ly.weight] & waiting)] or todo
            for chunk in _hessian_chunks(ready, hessian):
                stats = calib.capture_stats(m, chunk, batches, hessian)
                for ly in chunk:
                    w_new = fn(weights[ly.weight], target[ly.weight], pattern, ly.layout, stats[ly.weight],
                               blocksize=blocksize, damp=damp)
                    finish(ly, method, w_new)
            todo = [ly for ly in todo if ly not in ready]
        notes.append(f"calibration: {sum(next(iter(b.values())).shape[0] for b in batches)} samples "
                     f"in {len(batches)} batches")

    reports = []
    for ly in layers:
        w = weight_array(m, ly.weight)
        reports.append(LayerReport(name=ly.name, op=ly.op, weight=ly.weight, shape=ly.shape, params=int(w.size),
                                   nonzeros=int(np.count_nonzero(w)), target=target.get(ly.weight),
                                   method=used.get(ly.weight), excluded=ly.excluded))
    return PruneResult(model=m, layers=reports, notes=notes)
