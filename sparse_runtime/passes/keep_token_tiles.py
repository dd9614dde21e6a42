"""Let consecutive PackedMatMuls hand activations over channels-major ("token tiles").

Each PackedMatMul on its own transposes its row-major input into token tiles for the kernels and
its result back to rows. When a layer's only reader is the next PackedMatMul (BERT's FFN pair,
an MLP), the first keeps its result as tiles (``out_layout="tiles"``) and the second reads them
(``in_layout="tiles"``): two transposes of the widest activation in the block disappear. The
value between them is then a ``TokenTiles`` (ops/_tiles.py), so the pair must be private: the
value is not a graph output, has no other reader, and the first layer has no residual input
(a residual is added in row-major layout). Off in debug mode, whose checks want ONNX values.
"""
from __future__ import annotations

from ..ir import Graph
from .context import PassContext


def keep_token_tiles(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    if ctx.debug:
        return g
    consumers = g.consumers()
    outputs = {o.name for o in g.outputs}
    for node in g.nodes:
        if node.op_type != "PackedMatMul" or node.domain != "sparse_runtime" or len(node.inputs) != 1:
            continue
        value = node.outputs[0]
        users = consumers.get(value, [])
        if value in outputs or len(users) != 1:
            continue
        (nxt,) = users
        if (nxt.op_type != "PackedMatMul" or nxt.domain != "sparse_runtime" or nxt.inputs[0] != value
                or value in nxt.inputs[1:] or nxt.attrs["weight"].shape[1] != node.attrs["weight"].shape[0]):
            continue
        node.attrs = dict(node.attrs, out_layout="tiles")
        nxt.attrs = dict(nxt.attrs, in_layout="tiles")
    return g
