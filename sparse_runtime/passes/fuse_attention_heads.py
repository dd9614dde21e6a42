"""Let FusedAttention read its heads straight from the packed QKV projection.

    X -> Split(3 equal parts, last axis) -> Reshape [B, S, H, D] -> Transpose -> Q / Kᵀ / V -> FusedAttention

becomes FusedAttention(X) with a ``qkv`` attribute (heads, head size, where each of Q, K, V starts
in X's last axis): the native kernel reads the heads in place (``kernels.attention_qkv``). The
seven nodes of the head split cost 2-17 us each of executor and Python on BERT-base between two
kernels, with cold caches, about 0.4 ms a run. The replaced nodes are kept in the attribute and
run, with the original semantics and errors, when an input does not fit the fast path.

It needs the Reshape shapes and split sizes as constants. Torch exports compute them from
``Shape``: they are constants for static input shapes (after fold_constants) and on the plans
specialised per input signature (engine/specialize.py runs this pass there). Only private chains
fuse: each intermediate is read by the chain alone and is not a graph output.
"""
from __future__ import annotations

from typing import Optional

from ..ir import Graph, Node
from .context import PassContext

_DEFAULT = ("", "ai.onnx")
_PERMS = ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3])  # Q, Kᵀ, V


def _private_producer(g, producers, consumers, outputs, value, op_type) -> Optional[Node]:
    node = producers.get(value)
    if node is None or node.op_type != op_type or node.domain not in _DEFAULT:
        return None
    if value in outputs or len(consumers.get(value, [])) != 1:
        return None
    return node


def _const_ints(g, name) -> Optional[list]:
    c = g.initializers.get(name) if name else None
    if c is None or c.dtype.kind not in "iu" or c.ndim != 1:
        return None
    return [int(v) for v in c]


def _match(g, producers, consumers, outputs, att, opset):
    if len(att.inputs) != 4 or int(att.attrs.get("axis", -1)) != -1:
        return None
    chains = []
    for value, perm in zip(att.inputs[:3], _PERMS):
        t = _private_producer(g, producers, consumers, outputs, value, "Transpose")
        if t is None or list(t.attrs.get("perm", [])) != perm:
            return None
        r = _private_producer(g, producers, consumers, outputs, t.inputs[0], "Reshape")
        if r is None or int(r.attrs.get("allowzero", 0)):
            return None
        shape = _const_ints(g, r.inputs[1] if len(r.inputs) > 1 else "")
        if shape is None or len(shape) != 4 or shape[2] < 1 or shape[3] < 1 or shape[0] < 0 or shape[1] < -1:
            return None
        split = _private_producer(g, producers, consumers, outputs, r.inputs[0], "Split")
        if split is None:
            return None
        chains.append((split, r, t, shape))
    split = chains[0][0]
    heads, head_dim = chains[0][3][2], chains[0][3][3]
    if any(c[0] is not split or c[3][2:] != [heads, head_dim] for c in chains) or len(split.outputs) != 3:
        return None
    if int(split.attrs.get("axis", 0)) not in (-1, 2):
        return None
    width = heads * head_dim
    sizes = split.attrs.get("split") if opset < 13 else _const_ints(g, split.inputs[1] if len(split.inputs) > 1 else "")
    explicit = len(split.inputs) > 1 and split.inputs[1] and opset >= 13
    if (sizes is not None and list(sizes) != [width] * 3) or (explicit and sizes is None):
        return None
    offsets = [split.outputs.index(r.inputs[0]) * width for _, r, _, _ in chains]
    consts = {name: g.initializers[name] for _, r, _, _ in chains for name in r.inputs[1:2]}
    if explicit:
        consts[split.inputs[1]] = g.initializers[split.inputs[1]]
    qkv = {"heads": heads, "head_dim": head_dim, "offsets": offsets, "width": 3 * width,
           "shapes": [c[3] for c in chains], "nodes": [split] + [n for c in chains for n in c[1:3]],
           "consts": consts}
    removed = list(qkv["nodes"])
    output = att.outputs[0]
    merge = _merge_reshape(g, consumers, outputs, att, width) if att.attrs.get("heads_last") else None
    if merge is not None:  # the result comes out as [B, S, H * D] directly
        qkv["merge"] = {"node": merge, "shape": _const_ints(g, merge.inputs[1]), "const": g.initializers[merge.inputs[1]]}
        removed.append(merge)
        output = merge.outputs[0]
    fused = Node(op_type=att.op_type, domain=att.domain, name=att.name, inputs=[split.inputs[0], "", "", att.inputs[3]],
                 outputs=[output], attrs=dict(att.attrs, qkv=qkv))
    return fused, removed


def _merge_reshape(g, consumers, outputs, att, width) -> Optional[Node]:
    """The Reshape to a constant [B, S, H * D] that alone reads the heads-last result."""
    value = att.outputs[0]
    users = consumers.get(value, [])
    if value in outputs or len(users) != 1:
        return None
    (r,) = users
    if r.op_type != "Reshape" or r.domain not in _DEFAULT or r.inputs[0] != value or int(r.attrs.get("allowzero", 0)):
        return None
    shape = _const_ints(g, r.inputs[1] if len(r.inputs) > 1 else "")
    if shape is None or len(shape) != 3 or shape[2] not in (width, -1) or shape[0] < 0 or shape[1] < -1 \
            or (shape[1] == -1 and shape[2] == -1):
        return None
    return r


def fuse_attention_heads(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    producers, consumers = g.producers(), g.consumers()
    outputs = {o.name for o in g.outputs}
    opset = ctx.opset if ctx.opset else g.opset
    replaced, removed = {}, set()
    for node in g.nodes:
        if node.op_type != "FusedAttention" or node.domain != "sparse_runtime" or "qkv" in node.attrs:
            continue
        m = _match(g, producers, consumers, outputs, node, opset)
        if m is None or any(id(n) in removed for n in m[1]):
            continue
        replaced[id(node)] = m[0]
        removed |= {id(n) for n in m[1]}
    if replaced:
        # The fused node keeps the attention's place: X comes before the Split it replaced, and an
        # absorbed merge Reshape's readers all come after the attention.
        g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in removed or id(n) in replaced]
    return g

