"""Recognise scaled-dot-product attention as exporters write it and replace it by one node.

    S = MatMul(Q', K') [/ c or * c]      Q' = Q [* a], K' = Kᵀ [* b]   (a, b, c scalars)
    P = Softmax(S [+ mask], last axis)
    Y = MatMul(P, V)

TorchScript and hand-written modules divide the scores by √d (``Div``; ``Mul`` by 1/√d too); the
exporters' scaled_dot_product_attention multiplies Q and Kᵀ by √scale each before the MatMul.
A scale factor may be a constant or, when torch computed it from a symbolic shape, a one-element
runtime value (it becomes an input of the fused node). The replacement, ``FusedAttention``
(domain ``sparse_runtime``, ``ops/fused_attention.py``), takes ``[Q, Kᵀ, V, mask or "", factors...]``
with attributes ``scale`` (the constant part), ``factor_powers`` (+1 multiply / -1 divide per
runtime factor) and the Softmax's ``axis`` / ``legacy_softmax`` (opset < 13), and runs on the
native fused attention kernel. A Transpose(perm [0, 2, 1, 3]) that alone reads the result (heads
merged back into tokens) is absorbed too: ``heads_last=1``.

Only private chains fuse: every intermediate (Q', K', S, the masked S, P) must be read by the
pattern alone and must not be a graph output.
"""
from __future__ import annotations

from typing import Optional

from ..ir import Graph, Node
from .context import PassContext

_DEFAULT = ("", "ai.onnx")


class _Lookup:
    def __init__(self, g: Graph, opset: int):
        self.g = g
        self.opset = opset
        self.producers = g.producers()
        self.consumers = g.consumers()
        self.outputs = {o.name for o in g.outputs}

    def producer(self, value: str, *ops: str) -> Optional[Node]:
        n = self.producers.get(value)
        return n if n is not None and n.op_type in ops and n.domain in _DEFAULT else None

    def private(self, value: str) -> bool:
        return value not in self.outputs and len(self.consumers.get(value, [])) == 1

    def const_scalar(self, name: str) -> Optional[float]:
        c = self.g.initializers.get(name)
        if c is None or c.size != 1 or c.ndim > 1 or c.dtype.kind != "f":
            return None
        return float(c.reshape(()))

    def runtime_scalar(self, name: str) -> bool:
        """A float value known (from shape inference) to hold one element, rank 0 or 1."""
        vi = self.g.value_info.get(name)
        if vi is None or vi.shape is None or len(vi.shape) > 1 or any(d != 1 for d in vi.shape):
            return False
        return vi.dtype is not None and vi.dtype.kind == "f"

    def rank(self, name: str) -> Optional[int]:
        vi = self.g.value_info.get(name)
        return None if vi is None or vi.shape is None else len(vi.shape)


def _scaling(lk: _Lookup, node: Optional[Node], value: str, divide_ok: bool):
    """(operand, const factor, runtime factors) when `node` scales `value`'s operand by a scalar."""
    if node is None or len(node.inputs) != 2:
        return None
    if node.op_type == "Mul":
        pairs = [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])]
    elif node.op_type == "Div" and divide_ok:
        pairs = [(node.inputs[0], node.inputs[1])]
    else:
        return None
    power = -1 if node.op_type == "Div" else 1
    for operand, factor in pairs:
        c = lk.const_scalar(factor)
        if c is not None and c != 0:
            return operand, c ** power, []
        if factor not in lk.g.initializers and lk.runtime_scalar(factor) and not lk.runtime_scalar(operand):
            return operand, 1.0, [(factor, power)]
    return None


def _strip_scale(lk: _Lookup, value: str, divide_ok: bool):
    """Follow at most one private scalar Mul (or Div) back from `value`."""
    node = lk.producer(value, "Mul", "Div")
    s = _scaling(lk, node, value, divide_ok) if node is not None and lk.private(value) else None
    if s is None:
        return value, 1.0, [], []
    operand, c, factors = s
    return operand, c, factors, [node]


def _softmax_axis(lk: _Lookup, sm: Node) -> Optional[int]:
    """The Softmax axis when it is (or may be, rank unknown) the last one, else None."""
    axis = int(sm.attrs.get("axis", 1 if lk.opset < 13 else -1))
    if axis == -1:
        return axis
    rank = lk.rank(sm.inputs[0])
    # Before opset 13 Softmax flattens to 2-D at `axis`; for the last axis that is the same thing.
    # TorchScript at opset 11 writes axis=3 where shape inference lost the rank: the fused node
    # keeps the axis and checks it at run time.
    return axis if rank is None or axis == rank - 1 else None


def _match(lk: _Lookup, sm: Node):
    axis = _softmax_axis(lk, sm)
    if axis is None or not lk.private(sm.outputs[0]):
        return None
    (pv,) = lk.consumers[sm.outputs[0]]
    if pv.op_type != "MatMul" or pv.domain not in _DEFAULT or pv.inputs[0] != sm.outputs[0]:
        return None
    nodes = [sm, pv]
    logits = sm.inputs[0]
    if not lk.private(logits):
        return None
    mask = ""
    add = lk.producer(logits, "Add")
    if add is not None:
        # Which side is the scores chain: the one leading (through an optional scale) to a MatMul.
        for scores, other in ((add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])):
            inner, _, _, _ = _strip_scale(lk, scores, divide_ok=True)
            if lk.producer(inner, "MatMul") is not None and lk.private(inner) and lk.private(scores):
                mask, logits = other, scores
                nodes.append(add)
                break
        else:
            return None
    raw, scale, factors, scale_nodes = _strip_scale(lk, logits, divide_ok=True)
    qk = lk.producer(raw, "MatMul")
    if qk is None or not lk.private(raw):
        return None
    nodes += scale_nodes + [qk]
    q, q_scale, q_factors, q_nodes = _strip_scale(lk, qk.inputs[0], divide_ok=True)
    kt, k_scale, k_factors, k_nodes = _strip_scale(lk, qk.inputs[1], divide_ok=True)
    if qk.inputs[0] == qk.inputs[1]:
        q, q_scale, q_factors, q_nodes = qk.inputs[0], 1.0, [], []
        kt, k_scale, k_factors, k_nodes = qk.inputs[1], 1.0, [], []
    nodes += q_nodes + k_nodes
    factors = factors + q_factors + k_factors
    for name in (q, kt, pv.inputs[1]):
        r = lk.rank(name)
        if r is not None and r < 2:
            return None  # ONNX's 1-D MatMul rules: leave those to the plain ops
    attrs = {"scale": float(scale * q_scale * k_scale), "factor_powers": [int(p) for _, p in factors],
             "axis": axis, "legacy_softmax": int(lk.opset < 13)}
    output = pv.outputs[0]
    merge = _head_merge(lk, output)
    if merge is not None:
        # The kernel writes [batch, tokens, heads, dv] directly: no transposed copy for the
        # Reshape that follows to make.
        nodes.append(merge)
        output = merge.outputs[0]
        attrs["heads_last"] = 1
    fused = Node(op_type="FusedAttention", domain="sparse_runtime", name=sm.name or pv.outputs[0],
                 inputs=[q, kt, pv.inputs[1], mask] + [f for f, _ in factors], outputs=[output], attrs=attrs)
    return fused, nodes


def _head_merge(lk: _Lookup, value: str) -> Optional[Node]:
    """The Transpose(perm [0, 2, 1, 3]) that alone reads ``value``, the usual first half of merging
    heads back into tokens."""
    if not lk.private(value):
        return None
    (t,) = lk.consumers[value]
    if t.op_type != "Transpose" or t.domain not in _DEFAULT or list(t.attrs.get("perm", [])) != [0, 2, 1, 3]:
        return None
    return t


def fuse_attention(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    lk = _Lookup(g, ctx.opset if ctx.opset else g.opset)
    replaced: dict = {}  # id(the pattern's last node, the P·V MatMul) -> fused node
    removed: set = set()
    for node in g.nodes:
        if node.op_type != "Softmax" or node.domain not in _DEFAULT or id(node) in removed:
            continue
        m = _match(lk, node)
        if m is None:
            continue
        fused, nodes = m
        if any(id(n) in removed for n in nodes):
            continue
        removed |= {id(n) for n in nodes}
        replaced[id(nodes[1])] = fused
    # The fused node takes the place of the P·V MatMul: Q, Kᵀ, V, the mask and the factors all
    # come before it (an absorbed Transpose comes after it, so that order holds too).
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in removed or id(n) in replaced]
    return g
