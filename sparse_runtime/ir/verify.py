"""Structural checks on a Graph, and a stable topological sort.

``verify(graph)`` runs between passes in debug mode (``PassContext.debug``) and after loading; it
catches the mistakes a buggy pass makes: a node reading a value nobody produced (or produced
later), two producers for one name, a graph output that no longer exists.
"""
from __future__ import annotations

import heapq

from ..errors import SparseRuntimeError
from .graph import Graph


class IRError(SparseRuntimeError, ValueError):
    """The graph is structurally broken (order, undefined or duplicated values)."""


def verify(graph: Graph) -> Graph:
    """Raise IRError naming the node if ``graph`` is not a well-formed, topologically sorted graph.

    Returns the graph unchanged so it can be chained.
    """
    defined = set()
    for vi in graph.inputs:
        if vi.name in defined:
            raise IRError(f"graph input '{vi.name}' is listed twice")
        if vi.name in graph.initializers:
            raise IRError(f"graph input '{vi.name}' is also an initializer (constants are not inputs)")
        defined.add(vi.name)
    defined.update(graph.initializers)
    # Names produced anywhere: lets the message say "produced later" vs "never produced".
    later = {o for n in graph.nodes for o in n.outputs if o}
    for node in graph.nodes:
        for name in node.inputs:
            if name and name not in defined:
                why = ("is produced by a later node: nodes are not in topological order"
                       if name in later else
                       "is never defined (not a graph input, initializer or node output)")
                raise IRError(f"{node.describe()}: input '{name}' {why}")
        for name in node.outputs:
            if not name:
                continue
            if name in defined:
                raise IRError(f"{node.describe()}: output '{name}' is already defined "
                              "(by a graph input, initializer or earlier node)")
            defined.add(name)
    for vi in graph.outputs:
        if vi.name not in defined:
            raise IRError(f"graph output '{vi.name}' is not produced by any node, input or initializer")
    return graph


def is_sorted(nodes, available) -> bool:
    """True if every non-empty node input is in ``available`` or produced by an earlier node."""
    seen = set(available)
    for n in nodes:
        for i in n.inputs:
            if i and i not in seen:
                return False
        seen.update(n.outputs)
    return True


def toposort(nodes: list, available) -> list:
    """Stable topological order of ``nodes`` (original order kept where dependencies allow).

    ``available`` holds the names defined before any node (graph inputs, initializers).
    Raises IRError naming the node for an input that nothing defines, a value produced twice, or
    a cycle. Returns ``nodes`` itself when it is already sorted.
    """
    available = set(available)
    if is_sorted(nodes, available):
        return nodes
    producer = {}
    for idx, n in enumerate(nodes):
        for o in n.outputs:
            if not o:
                continue
            if o in producer or o in available:
                raise IRError(f"{n.describe()}: output '{o}' is produced more than once")
            producer[o] = idx
    deps = []
    users = [[] for _ in nodes]
    for idx, n in enumerate(nodes):
        d = set()
        for i in n.inputs:
            if not i or i in available:
                continue
            p = producer.get(i)
            if p is None:
                raise IRError(f"{n.describe()}: input '{i}' is never defined "
                              "(not a graph input, initializer or node output)")
            if p == idx:
                raise IRError(f"{n.describe()}: input '{i}' is its own output (cycle)")
            d.add(p)
        deps.append(len(d))
        for p in d:
            users[p].append(idx)
    ready = [i for i, c in enumerate(deps) if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        idx = heapq.heappop(ready)
        order.append(nodes[idx])
        for u in users[idx]:
            deps[u] -= 1
            if deps[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [nodes[i] for i, c in enumerate(deps) if c > 0]
        names = ", ".join(n.describe() for n in stuck[:5])
        more = f" and {len(stuck) - 5} more" if len(stuck) > 5 else ""
        raise IRError(f"the graph has a cycle through {names}{more}")
    return order
