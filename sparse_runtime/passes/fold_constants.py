"""Evaluate at compile time everything that does not depend on a graph input.

* ``Constant`` nodes become initializers.
* A node whose inputs are all constants is run once through the op registry's own kernels (so
  folding and execution can never disagree) and replaced by initializers.
* ``Shape`` / ``Size`` of a value whose inferred shape is fully static fold too: this removes the
  Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of torch exports when shapes are static.

Not folded: random ops (they must differ per run), ops outside the default domain, ops the
registry does not know (the planner reports those), and results larger than
``ctx.options["fold_max_bytes"]`` (default 64 MiB), which would bloat memory for nothing.
A node whose kernel fails here is left in place: the same error then surfaces, with the node
named, when the plan is compiled or run.
"""
from __future__ import annotations

import logging

import numpy as np

from ..errors import SparseRuntimeError
from ..ir import Graph, ValueInfo
from ..ops import OpContext, lookup
from .context import PassContext

log = logging.getLogger(__name__)

FOLD_MAX_BYTES = 64 << 20
NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                              "Multinomial", "Bernoulli"})


def fold_constants(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    max_bytes = int(ctx.options.get("fold_max_bytes", FOLD_MAX_BYTES))
    opctx = OpContext(opset=g.opset, graph=g, threads=ctx.threads)
    kept = []
    for node in g.nodes:
        values = _fold(node, g, opctx, max_bytes)
        if values is None:
            kept.append(node)
            continue
        for name, arr in zip(node.outputs, values):
            if name:
                g.initializers[name] = arr
                g.value_info[name] = ValueInfo(name, arr.dtype, tuple(arr.shape))
    g.nodes = kept
    return g


def _fold(node, g, opctx, max_bytes):
    """List of arrays aligned with node.outputs, or None to keep the node."""
    if node.domain != "" or node.op_type in NONDETERMINISTIC:
        return None
    consts = g.initializers
    if node.op_type == "Constant":
        return _constant_value(node)
    if node.op_type in ("Shape", "Size") and node.inputs and node.inputs[0] not in consts:
        return _static_shape(node, g)
    if not node.inputs or not all(i == "" or i in consts for i in node.inputs):
        return None
    if node.op_type == "Identity":
        return [consts[node.inputs[0]]]
    for o in node.outputs:  # skip early when inference already says the result is too big
        vi = g.value_info.get(o)
        if vi is not None and _nbytes(vi) > max_bytes:
            return None
    try:
        spec = lookup(node)
    except SparseRuntimeError:
        return None
    if spec.since > opctx.opset:
        return None
    try:
        kernel = spec.factory(node, opctx)
        results = kernel([consts[i] if i else None for i in node.inputs])
    except Exception as e:  # left for the planner / executor to report with context
        log.debug("not folding %s: %s", node.describe(), e)
        return None
    wanted = sum(1 for o in node.outputs if o)
    if len([o for o, _ in zip(node.outputs, results) if o]) < wanted:
        return None
    out = [np.asarray(r) for r in results[:len(node.outputs)]]
    if any(a.nbytes > max_bytes or a.dtype == object and a.size > (1 << 20) for a in out):
        return None
    return out


def _nbytes(vi) -> int:
    if vi.shape is None or vi.dtype is None or not all(isinstance(d, int) for d in vi.shape):
        return 0
    return int(np.prod(vi.shape, dtype=np.int64)) * np.dtype(vi.dtype).itemsize


def _static_shape(node, g):
    vi = g.value_info.get(node.inputs[0])
    if vi is None or vi.shape is None or not all(isinstance(d, int) and d >= 0 for d in vi.shape):
        return None
    if node.op_type == "Size":
        return [np.array(int(np.prod(vi.shape, dtype=np.int64)), dtype=np.int64)]
    start = node.attrs.get("start", 0)
    end = node.attrs.get("end", None)
    return [np.array(vi.shape[start:end], dtype=np.int64)]  # Python slicing clamps like ONNX


def _constant_value(node):
    a = node.attrs
    if "value" in a:
        v = np.asarray(a["value"])
    elif "sparse_value" in a:
        v = np.asarray(a["sparse_value"])
    elif "value_float" in a:
        v = np.array(a["value_float"], dtype=np.float32)
    elif "value_floats" in a:
        v = np.array(a["value_floats"], dtype=np.float32)
    elif "value_int" in a:
        v = np.array(a["value_int"], dtype=np.int64)
    elif "value_ints" in a:
        v = np.array(a["value_ints"], dtype=np.int64)
    elif "value_string" in a:
        v = np.array(a["value_string"], dtype=object)
    elif "value_strings" in a:
        v = np.array(list(a["value_strings"]), dtype=object)
    else:
        return None  # malformed; the Constant kernel (or its absence) reports it with the node name
    return [v]
