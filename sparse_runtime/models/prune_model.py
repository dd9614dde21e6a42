"""Prune every prunable layer of an ONNX model by magnitude, in memory (``--impose-sparsity``).

A what-if: a user sees the speed of a pruned model before pruning it for real (the accuracy is
not kept; that needs fine-tuning). Prunable = a MatMul / Gemm / Conv whose weight (input B / W) is
an initializer. Excluded by default, as pruning recipes do because these layers are small and
accuracy-critical:
* the first Conv of the graph (it sees raw pixels; few weights, a large share of accuracy);
* the final classifier: the last MatMul/Gemm whose output reaches a graph output through head ops
  only (bias Add with a constant, Softmax, Reshape, ...). An encoder's last FFN is *not* one: a
  residual Add or LayerNorm sits between it and the output.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from .prune import prune

_LINEAR = ("MatMul", "Gemm", "Conv")
# ops a classifier output may pass through on its way to a graph output
_HEAD_OPS = {"Softmax", "LogSoftmax", "Sigmoid", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity",
             "Cast", "Add"}


@dataclass
class PruneReport:
    sparsity: float
    pattern: str
    pruned: list = field(default_factory=list)  # (node name, weight name, shape)
    skipped: list = field(default_factory=list)  # (node name, reason)

    def describe(self) -> str:
        s = (f"imposed {self.sparsity:.0%} {self.pattern} sparsity on {len(self.pruned)} layer(s) by magnitude "
             "(in memory; the file is unchanged)")
        if self.skipped:
            s += "; kept dense: " + ", ".join(f"{n} ({why})" for n, why in self.skipped)
        return s


def _layout(node) -> str:
    if node.op_type == "Conv":
        return "OIHW"
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return "NK" if trans_b else "KN"
    return "KN"


def _classifier(graph, linear_nodes) -> object:
    """The final classifier node or None (see the module docstring)."""
    consumers: dict = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in graph.output}
    consts = {t.name for t in graph.initializer}

    def reaches_output_through_head(value, depth=0):
        if value in outputs:
            return True
        if depth > 8:
            return False
        for c in consumers.get(value, []):
            if c.op_type not in _HEAD_OPS:
                return False
            if c.op_type == "Add" and not any(i in consts for i in c.input if i != value):
                return False  # a residual add: this is a body layer, not a head
            if not all(reaches_output_through_head(o, depth + 1) for o in c.output if o):
                return False
        return bool(consumers.get(value))

    for node in reversed(linear_nodes):
        if node.op_type in ("MatMul", "Gemm"):
            return node if reaches_output_through_head(node.output[0]) else None
    return None


def impose_sparsity(model: onnx.ModelProto, sparsity: float, pattern: str = "unstructured",
                    include_ends: bool = False) -> tuple:
    """Returns ``(pruned copy of model, PruneReport)``. ``include_ends`` also prunes the first
    conv and the final classifier. Weights shared by several layers are pruned once."""
    if not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    inits = {t.name: t for t in g.initializer}
    linear = [n for n in g.node if n.op_type in _LINEAR and len(n.input) > 1 and n.input[1] in inits]
    report = PruneReport(float(sparsity), pattern)
    skip = {}
    if not include_ends:
        first_conv = next((n for n in linear if n.op_type == "Conv"), None)
        if first_conv is not None:
            skip[id(first_conv)] = "first conv"
        head = _classifier(g, linear)
        if head is not None:
            skip[id(head)] = "final classifier"
    done = set()
    for node in linear:
        label = node.name or node.output[0]
        if id(node) in skip:
            report.skipped.append((label, skip[id(node)]))
            continue
        wname = node.input[1]
        if wname in done:
            continue
        w = numpy_helper.to_array(inits[wname])
        if w.dtype.kind != "f" or w.ndim < 2:
            report.skipped.append((label, f"weight is {w.dtype} {w.shape}"))
            continue
        pruned = prune(w, sparsity, pattern, _layout(node)).astype(w.dtype, copy=False)
        inits[wname].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(pruned), wname))
        done.add(wname)
        report.pruned.append((label, wname, list(w.shape)))
    return out, report
