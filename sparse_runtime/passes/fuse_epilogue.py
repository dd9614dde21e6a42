"""Fuse what follows a packed layer into the kernel's epilogue: a per-output bias Add, then one
activation (Relu, Gelu, or GELU as torch.onnx.export decomposes it: x * 0.5 * (1 + erf(x / √2))).

The values are written once, by the kernel, instead of being re-read by each elementwise node.
Only single-consumer chains that are not graph outputs are fused, so no other reader loses a value.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ir import Graph, Node
from .context import PassContext

_PACKED = ("PackedMatMul", "PackedConv")


class _Chain:
    """Lookups over the graph being fused; rebuilt after each successful fusion."""

    def __init__(self, g: Graph):
        self.g = g
        self.consumers = g.consumers()
        self.outputs = {o.name for o in g.outputs}

    def only_consumer(self, value: str) -> Optional[Node]:
        users = self.consumers.get(value, [])
        if value in self.outputs or len(users) != 1:
            return None
        return users[0]

    def scalar(self, name: str) -> Optional[float]:
        c = self.g.initializers.get(name)
        if c is None or c.size != 1:
            return None
        return float(c.reshape(()))

    def other_input(self, node: Node, value: str) -> Optional[str]:
        if len(node.inputs) != 2 or node.inputs.count(value) != 1:
            return None
        return node.inputs[1] if node.inputs[0] == value else node.inputs[0]


def _bias_vector(chain: _Chain, packed: Node, name: str) -> Optional[np.ndarray]:
    c = chain.g.initializers.get(name)
    if c is None or c.dtype != np.float32:
        return None
    if packed.op_type == "PackedMatMul":
        n = packed.attrs["weight"].shape[0]
        ok = c.size == n and c.shape[-1] == n
    else:  # NCHW: the bias runs along axis 1, i.e. (n, 1, 1) or (1, n, 1, 1)
        n = sum(w.shape[0] for w in packed.attrs["weights"])
        spatial = len(packed.attrs["kernel_shape"])
        ok = c.size == n and c.ndim >= spatial + 1 and c.shape[-spatial - 1] == n
    return c.reshape(-1).astype(np.float32) if ok else None


def _fuse_bias(chain: _Chain, packed: Node) -> Optional[set]:
    add = chain.only_consumer(packed.outputs[0])
    if add is None or add.op_type != "Add" or packed.attrs["activation"] != "none":
        return None
    other = chain.other_input(add, packed.outputs[0])
    bias = _bias_vector(chain, packed, other) if other else None
    if bias is None:
        return None
    old = packed.attrs.get("bias")
    packed.attrs["bias"] = bias if old is None else (old + bias).astype(np.float32)
    packed.outputs = [add.outputs[0]]
    return {id(add)}


def _match_erf_gelu(chain: _Chain, x: str) -> Optional[tuple]:
    """Nodes and output of x * 0.5 * (1 + erf(x / √2)), in any order of the two products."""
    users = chain.consumers.get(x, [])
    if x in chain.outputs or len(users) != 2:
        return None
    scale = next((u for u in users if u.op_type in ("Div", "Mul") and u.inputs[0] == x), None)
    if scale is None:
        return None
    s = chain.scalar(scale.inputs[1])
    if s is None or not np.isclose(s if scale.op_type == "Div" else 1.0 / s, np.sqrt(2.0), rtol=1e-4):
        return None
    erf = chain.only_consumer(scale.outputs[0])
    add = chain.only_consumer(erf.outputs[0]) if erf is not None and erf.op_type == "Erf" else None
    if add is None or add.op_type != "Add" or chain.scalar(chain.other_input(add, erf.outputs[0]) or "") != 1.0:
        return None
    # Two Mul nodes combine {x, add_out, 0.5}; the one reading x is the first.
    first = next((u for u in users if u is not scale and u.op_type == "Mul"), None)
    if first is None:
        return None
    second = chain.only_consumer(first.outputs[0])
    if second is None or second.op_type != "Mul":
        return None
    leaves = [i for i in first.inputs + second.inputs if i != first.outputs[0]]
    if len(leaves) != 3:
        return None
    rest = [v for v in leaves if v not in (x, add.outputs[0])]
    if x not in leaves or add.outputs[0] not in leaves or len(rest) != 1 or chain.scalar(rest[0]) != 0.5:
        return None
    if chain.only_consumer(add.outputs[0]) not in (first, second):
        return None
    return [scale, erf, add, first, second], second.outputs[0]


def _fuse_activation(chain: _Chain, packed: Node) -> Optional[set]:
    if packed.attrs["activation"] != "none":
        return None
    y = packed.outputs[0]
    user = chain.only_consumer(y)
    if user is not None and user.op_type == "Relu":
        packed.attrs["activation"] = "relu"
        packed.outputs = [user.outputs[0]]
        return {id(user)}
    if user is not None and user.op_type == "Gelu":
        approx = user.attrs.get("approximate", "none")
        packed.attrs["activation"] = "gelu_tanh" if approx == "tanh" else "gelu_erf"
        packed.outputs = [user.outputs[0]]
        return {id(user)}
    matched = _match_erf_gelu(chain, y)
    if matched is not None:
        nodes, out = matched
        packed.attrs["activation"] = "gelu_erf"
        packed.outputs = [out]
        return {id(n) for n in nodes}
    return None


def fuse_epilogue(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    for step in (_fuse_bias, _fuse_activation):
        chain = _Chain(g)
        removed: set = set()
        for node in g.nodes:
            if node.domain == "sparse_runtime" and node.op_type in _PACKED and id(node) not in removed:
                gone = step(chain, node)
                if gone:
                    removed |= gone
                    # Fused node outputs changed: refresh lookups before the next match.
                    g.nodes = [n for n in g.nodes if id(n) not in removed]
                    chain = _Chain(g)
        g.nodes = [n for n in g.nodes if id(n) not in removed]
    return g
