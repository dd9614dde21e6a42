"""Fold an inference BatchNormalization into the Conv before it (constant weights only).

y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta is the same conv with
W' = W * s and b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps): one layer less to run
and the scale lands in the weights that get packed, so sparsity is unchanged.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from .context import PassContext


def _constants(graph: Graph, names):
    values = [graph.initializers.get(n) if n else None for n in names]
    return None if any(v is None for v in values) else values


def fold_batchnorm(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    consumers = g.consumers()
    graph_outputs = {o.name for o in g.outputs}
    producers = g.producers()
    removed = set()
    for bn in g.nodes:
        if bn.op_type != "BatchNormalization" or bn.domain not in ("", "ai.onnx"):
            continue
        if len([o for o in bn.outputs if o]) != 1 or bn.attrs.get("training_mode", 0):
            continue
        conv = producers.get(bn.inputs[0])
        if conv is None or conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx"):
            continue
        if conv.outputs[0] in graph_outputs or len(consumers.get(conv.outputs[0], [])) != 1:
            continue
        w = g.initializers.get(conv.inputs[1])
        stats = _constants(g, bn.inputs[1:5])
        if w is None or stats is None or w.dtype != np.float32:
            continue
        if len(consumers.get(conv.inputs[1], [])) != 1:
            continue  # a weight shared with another node must keep its values
        gamma, beta, mean, var = (np.asarray(s, np.float64).reshape(-1) for s in stats)
        if gamma.size != w.shape[0]:
            continue
        scale = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-5)))
        has_bias = len(conv.inputs) > 2 and conv.inputs[2]
        bias = g.initializers.get(conv.inputs[2]) if has_bias else np.zeros(w.shape[0], np.float32)
        if bias is None:
            continue
        new_w = (w * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
        new_b = ((bias.astype(np.float64) - mean) * scale + beta).astype(np.float32)
        w_name, b_name = f"{conv.inputs[1]}__bnfold", f"{bn.outputs[0]}__bnfold_bias"
        g.initializers[w_name] = new_w
        g.initializers[b_name] = new_b
        conv.inputs = [conv.inputs[0], w_name, b_name]
        conv.outputs = [bn.outputs[0]]
        removed.add(id(bn))
    g.nodes = [n for n in g.nodes if id(n) not in removed]
    return g
