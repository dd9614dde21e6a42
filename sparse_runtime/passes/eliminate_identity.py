"""Remove nodes that only forward their input: Identity, Dropout in inference mode, Cast to the
dtype the value already has.

Graph output names never change: if the forwarded value is a graph output, the producer of the
input is renamed to the output name instead; if that is not possible (the input is a graph
input, an initializer or another graph output) the node is kept.
"""
from __future__ import annotations

import numpy as np
from onnx import helper

from ..ir import Graph
from .context import PassContext


def eliminate_identity(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    graph_outputs = {o.name for o in g.outputs}
    used = {i for n in g.nodes for i in n.inputs if i} | graph_outputs
    produced = {o for n in g.nodes for o in n.outputs if o}
    alias = {}  # old value name -> the name that replaces it

    def resolve(name):
        while name in alias:
            name = alias[name]
        return name

    kept = []
    for node in g.nodes:
        node.inputs = [resolve(i) if i else i for i in node.inputs]
        if not _forwards(node, g, used):
            kept.append(node)
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if dst not in graph_outputs:
            alias[dst] = src
        elif src in produced and src not in graph_outputs:
            alias[src] = dst  # the producer takes the graph output's name
            if src in g.value_info and dst not in g.value_info:
                g.value_info[dst] = g.value_info[src]
            produced.add(dst)
        else:
            kept.append(node)
    if alias:
        for node in kept:
            node.inputs = [resolve(i) if i else i for i in node.inputs]
            node.outputs = [resolve(o) if o else o for o in node.outputs]
    g.nodes = kept
    return g


def _forwards(node, g, used) -> bool:
    if node.domain != "" or not node.inputs or not node.inputs[0] or not node.outputs:
        return False
    op = node.op_type
    if op == "Identity":
        return len(node.outputs) == 1
    if op == "Dropout":
        if any(o in used for o in node.outputs[1:] if o):
            return False  # the mask is read
        if len(node.inputs) > 2 and node.inputs[2]:
            mode = g.initializers.get(node.inputs[2])
            if mode is None or bool(np.asarray(mode).reshape(-1)[0]):
                return False  # training mode, or not known at compile time
        return True
    if op == "Cast" and len(node.outputs) == 1:
        src = node.inputs[0]
        have = g.initializers[src].dtype if src in g.initializers else getattr(
            g.value_info.get(src), "dtype", None)
        to = node.attrs.get("to")
        if have is None or not isinstance(to, int):
            return False
        try:
            want = np.dtype(helper.tensor_dtype_to_np_dtype(to))
        except Exception:
            return False
        return np.dtype(have) == want
    return False
