"""Recognise layer normalisation as exporters decompose it and replace it by one native node.

torch.onnx.export below opset 17 (and tf2onnx) write LayerNorm over the last axis as
    m = ReduceMean(x); d = x - m; v = ReduceMean(d ** 2); y = d / Sqrt(v + eps) [* gamma] [+ beta]
nine numpy ops and four temporaries per token row; FusedLayerNorm does it in one pass pair.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import Graph, Node
from .context import PassContext


class _Lookup:
    def __init__(self, g: Graph):
        self.g = g
        self.producers = g.producers()
        self.consumers = g.consumers()
        self.outputs = {o.name for o in g.outputs}

    def producer(self, value: str, op: str) -> Optional[Node]:
        n = self.producers.get(value)
        return n if n is not None and n.op_type == op and n.domain in ("", "ai.onnx") else None

    def private(self, value: str, readers: int = 1) -> bool:
        """Only the pattern reads this value (so removing its producer loses nothing)."""
        distinct = {id(n) for n in self.consumers.get(value, [])}  # Mul(d, d) reads d once
        return value not in self.outputs and len(distinct) == readers

    def scalar(self, name: str) -> Optional[float]:
        c = self.g.initializers.get(name)
        return None if c is None or c.size != 1 else float(c.reshape(()))

    def last_axis_mean(self, node: Optional[Node], x: str) -> bool:
        if node is None or node.inputs[0] != x or not node.attrs.get("keepdims", 1):
            return False
        axes = node.attrs.get("axes")
        if axes is None and len(node.inputs) > 1 and node.inputs[1]:
            c = self.g.initializers.get(node.inputs[1])
            axes = None if c is None else [int(a) for a in c.reshape(-1)]
        if axes is None or len(axes) != 1:
            return False
        info = self.g.value_info.get(x)
        rank = len(info.shape) if info is not None and info.shape is not None else None
        return axes[0] == -1 or (rank is not None and axes[0] == rank - 1)

    def vector(self, name: str, n: Optional[int]) -> Optional[np.ndarray]:
        c = self.g.initializers.get(name)
        if c is None or c.dtype != np.float32 or c.ndim < 1 or c.size != c.shape[-1]:
            return None
        return c.reshape(-1) if n is None or c.size == n else None


def _match(lk: _Lookup, div: Node):
    """The fused node and the nodes it replaces, for the pattern ending at `div`, else None."""
    if len(div.inputs) != 2:
        return None
    sub = lk.producer(div.inputs[0], "Sub")
    sqrt = lk.producer(div.inputs[1], "Sqrt")
    if sub is None or sqrt is None:
        return None
    x, d = sub.inputs[0], sub.outputs[0]
    mean = lk.producer(sub.inputs[1], "ReduceMean")
    add_eps = lk.producer(sqrt.inputs[0], "Add")
    if not lk.last_axis_mean(mean, x) or add_eps is None or not lk.private(d, 2):
        return None
    var_name, eps_name = add_eps.inputs
    eps = lk.scalar(eps_name)
    var = lk.producer(var_name, "ReduceMean")
    if eps is None or var is None:
        return None
    sq = lk.producer(var.inputs[0], "Pow") or lk.producer(var.inputs[0], "Mul")
    if sq is None or sq.inputs[0] != d or not lk.last_axis_mean(var, sq.outputs[0]):
        return None
    if sq.op_type == "Pow" and lk.scalar(sq.inputs[1]) != 2.0 or sq.op_type == "Mul" and sq.inputs[1] != d:
        return None
    chain = [mean, sub, sq, var, add_eps, sqrt, div]
    if not all(lk.private(n.outputs[0]) for n in (mean, sq, var, add_eps, sqrt)):
        return None
    info = lk.g.value_info.get(x)
    width = info.shape[-1] if info is not None and info.shape and isinstance(info.shape[-1], int) else None
    # Optional affine tail: Mul by a constant vector, then Add a constant vector.
    out, scale, bias = div.outputs[0], None, None
    users = lk.consumers.get(out, [])
    if len(users) == 1 and lk.private(out) and users[0].op_type == "Mul":
        other = users[0].inputs[1] if users[0].inputs[0] == out else users[0].inputs[0]
        scale = lk.vector(other, width)
        if scale is not None:
            chain.append(users[0])
            out = users[0].outputs[0]
            users = lk.consumers.get(out, [])
            if len(users) == 1 and lk.private(out) and users[0].op_type == "Add":
                other = users[0].inputs[1] if users[0].inputs[0] == out else users[0].inputs[0]
                bias = lk.vector(other, scale.size)
                if bias is not None:
                    chain.append(users[0])
                    out = users[0].outputs[0]
    fused = Node(op_type="FusedLayerNorm", domain="sparse_runtime", name=div.name or out,
                 inputs=[x], outputs=[out], attrs={"epsilon": eps, "scale": scale, "bias": bias})
    return fused, chain


def fuse_layernorm(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    lk = _Lookup(g)
    replaced: dict = {}  # id(last node of a pattern) -> fused node
    removed: set = set()
    for node in g.nodes:
        if node.op_type != "Div" or node.domain not in ("", "ai.onnx") or id(node) in removed:
            continue
        m = _match(lk, node)
        if m is None:
            continue
        fused, chain = m
        removed |= {id(n) for n in chain}
        replaced[id(chain[-1])] = fused
    # The fused node takes the place of the pattern's last node, so everything it reads is earlier.
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in removed or id(n) in replaced]
    return g
