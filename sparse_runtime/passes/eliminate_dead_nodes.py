"""Drop nodes whose outputs never reach a graph output, and initializers nothing reads.

Graph inputs are kept even when unused: callers still pass them, and Engine validates them.
"""
from __future__ import annotations

from ..ir import Graph
from .context import PassContext


def eliminate_dead_nodes(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    live = {o.name for o in g.outputs}
    kept = []
    for node in reversed(g.nodes):
        if any(o and o in live for o in node.outputs):
            kept.append(node)
            live.update(i for i in node.inputs if i)
    kept.reverse()
    g.nodes = kept
    g.initializers = {k: v for k, v in g.initializers.items() if k in live}
    return g
