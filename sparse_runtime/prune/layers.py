"""Which weights of an ONNX model are pruned, and how each is laid out.

A prunable layer is a MatMul (constant 2-D ``B``), Gemm (constant ``B``; ``transB`` decides the
layout) or Conv (constant ``W``) whose activation input is computed at run time. Excluded by
default, as every pruning toolkit does because they cost accuracy and save little:

* the first Conv in topological order (3 input channels: tiny, and everything depends on it);
* the classifier: the last MatMul/Gemm, if its output reaches a graph output through head ops only
  (bias Add, Softmax, Reshape, ...; not through a residual Add or a LayerNorm, so an encoder's last
  FFN is not one). The rule is shared with ``sparse-bench --impose-sparsity``
  (:mod:`sparse_runtime.models.prune_model`).

``exclude`` (regular expressions, matched with ``re.search`` against the node name and the
weight name) and ``exclude_ops`` (op types) exclude more.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from onnx import numpy_helper

from ..models.prune_model import _classifier

LINEAR_OPS = ("MatMul", "Gemm", "Conv")


@dataclass
class Layer:
    name: str  # node name (or its first output when the node is unnamed)
    op: str
    weight: str  # initializer name
    x: str  # activation input name
    layout: str  # "KN" | "NK" | "OIHW" (see patterns)
    shape: tuple
    attrs: dict = field(default_factory=dict)  # Conv: strides/pads/dilations/group/auto_pad; Gemm: transA
    index: int = 0  # node position in the graph
    excluded: Optional[str] = None  # why it is not pruned, or None


def _attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = int(a.i)
        elif a.type == a.INTS:
            out[a.name] = [int(v) for v in a.ints]
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.FLOAT:
            out[a.name] = float(a.f)
    return out


def _candidate(node, idx, weights) -> Optional[Layer]:
    """Layer for ``node`` if it is a linear op with a constant weight and a run-time input."""
    ins = list(node.input)
    if node.op_type not in LINEAR_OPS or len(ins) < 2 or ins[1] not in weights or ins[0] in weights:
        return None
    shape = tuple(weights[ins[1]])
    attrs = _attrs(node)
    if node.op_type == "Conv":
        if len(shape) < 3:
            return None
        layout = "OIHW"
    elif len(shape) != 2:
        return None  # batched MatMul weights are not layers
    elif node.op_type == "Gemm":
        layout = "NK" if attrs.get("transB", 0) else "KN"
    else:
        layout = "KN"
    name = node.name or node.output[0]
    return Layer(name=name, op=node.op_type, weight=ins[1], x=ins[0], layout=layout, shape=shape,
                 attrs=attrs, index=idx)


def _classifiers(graph, layers: list) -> set:
    """Node index of the classifier, if any (see the module docstring)."""
    nodes = [graph.node[ly.index] for ly in layers]
    head = _classifier(graph, nodes)
    return {ly.index for ly, n in zip(layers, nodes) if n is head}


def find_layers(model, exclude=None, exclude_ops=(), include_first_conv: bool = False,
                include_classifier: bool = False) -> list:
    """All prunable layers of ``model`` (an ``onnx.ModelProto``), in graph order; those that will
    not be pruned carry the reason in ``Layer.excluded``."""
    g = model.graph
    weights = {t.name: tuple(t.dims) for t in g.initializer}
    weights.update({s.values.name: tuple(s.dims) for s in g.sparse_initializer})
    layers = [ly for i, n in enumerate(g.node) if (ly := _candidate(n, i, weights)) is not None]
    patterns = [re.compile(p) for p in ([exclude] if isinstance(exclude, str) else (exclude or ()))]
    ops = {o.lower() for o in exclude_ops}
    first_conv = next((ly.index for ly in layers if ly.op == "Conv"), None)
    heads = _classifiers(g, layers)
    seen_weights = {}
    for ly in layers:
        hit = next((p.pattern for p in patterns if p.search(ly.name) or p.search(ly.weight)), None)
        if ly.weight in seen_weights:
            ly.excluded = f"shares its weight with '{seen_weights[ly.weight]}'"
        elif hit is not None:
            ly.excluded = f"--exclude {hit!r}"
        elif ly.op.lower() in ops:
            ly.excluded = f"op type {ly.op} excluded"
        elif ly.index == first_conv and not include_first_conv:
            ly.excluded = "first conv"
        elif ly.index in heads and not include_classifier:
            ly.excluded = "classifier"
        seen_weights.setdefault(ly.weight, ly.name)
    return layers


def weight_array(model, name: str) -> np.ndarray:
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    raise KeyError(f"initializer '{name}' not found")
