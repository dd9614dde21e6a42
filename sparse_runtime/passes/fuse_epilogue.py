"""Fuse what follows a packed layer into the kernel's epilogue: a per-output bias Add, then a
residual Add of a computed tensor of the output's shape, then one activation (Relu, Gelu, or GELU as torch.onnx.export decomposes it: x * 0.5 * (1 + erf(x / √2)),
x / √2 also as x * 0.7071, the three-way product in any order, and the tanh form
0.5 * x * (1 + tanh(√(2/π) * (x + 0.044715 * x³))) with x³ as Pow(x, 3) or x * (x * x)).

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
        self.producers = g.producers()
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


def _fuse_residual(chain: _Chain, packed: Node) -> Optional[set]:
    """Add(packed, r) with r a computed tensor (a residual connection) becomes a second input of
    the packed node, added in its epilogue before the activation (ResNet's Add -> Relu, BERT's
    dense + residual -> LayerNorm). The packed node moves to the Add's place, after r exists."""
    if len(packed.inputs) > 1 or packed.attrs["activation"] != "none":
        return None
    add = chain.only_consumer(packed.outputs[0])
    if add is None or add.op_type != "Add" or add.domain not in ("", "ai.onnx"):
        return None
    other = chain.other_input(add, packed.outputs[0])
    if not other or other in chain.g.initializers:
        return None
    info = chain.g.value_info.get(other)
    if info is not None and info.dtype is not None and info.dtype != np.float32:
        return None
    packed.inputs = packed.inputs + [other]
    packed.outputs = [add.outputs[0]]
    chain.g.nodes = [packed if n is add else n for n in chain.g.nodes if n is not packed]
    return {id(add)}


_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


def _scaled_by(chain: _Chain, node: Optional[Node], value: str, factor: float) -> bool:
    """node computes value * factor (Mul either way round) or value / (1 / factor)."""
    if node is None or len(node.inputs) != 2:
        return False
    if node.op_type == "Mul":
        other = chain.other_input(node, value)
        s = chain.scalar(other) if other else None
        return s is not None and np.isclose(s, factor, rtol=1e-4)
    if node.op_type == "Div" and node.inputs[0] == value:
        s = chain.scalar(node.inputs[1])
        return s is not None and s != 0 and np.isclose(1.0 / s, factor, rtol=1e-4)
    return False


def _plus_one(chain: _Chain, node: Optional[Node]) -> Optional[Node]:
    """The Add(·, 1) that alone reads node's output."""
    add = chain.only_consumer(node.outputs[0]) if node is not None else None
    if add is None or add.op_type != "Add" or chain.scalar(chain.other_input(add, node.outputs[0]) or "") != 1.0:
        return None
    return add


def _half_product(chain: _Chain, x: str, a: str) -> Optional[list]:
    """The two Muls combining {x, a, 0.5} in any order (inner first), e.g. (x·a)·0.5 (TorchScript),
    (x·0.5)·a, or x·(0.5·a) (dynamo)."""
    inner = chain.only_consumer(a)
    if inner is None or inner.op_type != "Mul":
        return None
    other = chain.other_input(inner, a)
    if other == x:  # (x * a) * 0.5
        outer = chain.only_consumer(inner.outputs[0])
        rest = chain.other_input(outer, inner.outputs[0]) if outer is not None and outer.op_type == "Mul" else None
        return [inner, outer] if rest and chain.scalar(rest) == 0.5 else None
    if other is not None and chain.scalar(other) == 0.5:  # x * (0.5 * a)
        outer = chain.only_consumer(inner.outputs[0])
        ok = outer is not None and outer.op_type == "Mul" and chain.other_input(outer, inner.outputs[0]) == x
        return [inner, outer] if ok else None
    # (x * 0.5) * a: `inner` (read by a) is the outer product here.
    first = chain.producers.get(other) if other else None
    if (first is None or first.op_type != "Mul" or chain.only_consumer(first.outputs[0]) is not inner
            or chain.other_input(first, x) is None or chain.scalar(chain.other_input(first, x)) != 0.5):
        return None
    return [first, inner]


def _cube(chain: _Chain, x: str, users: list) -> Optional[tuple]:
    """x³ as Pow(x, 3) or Mul(x, Mul(x, x)) (either order): (nodes, output)."""
    for u in users:
        if u.op_type == "Pow" and u.inputs[0] == x and chain.scalar(u.inputs[1]) == 3.0:
            return [u], u.outputs[0]
    sq = next((u for u in users if u.op_type == "Mul" and u.inputs == [x, x]), None)
    cube = chain.only_consumer(sq.outputs[0]) if sq is not None else None
    if cube is None or cube.op_type != "Mul" or chain.other_input(cube, sq.outputs[0]) != x:
        return None
    return [sq, cube], cube.outputs[0]


def _erf_core(chain: _Chain, x: str, users: list) -> Optional[tuple]:
    """1 + erf(x / √2) (or x · 0.7071...): (nodes, output)."""
    for scale in users:
        if scale.op_type in ("Div", "Mul") and _scaled_by(chain, scale, x, float(np.sqrt(0.5))):
            erf = chain.only_consumer(scale.outputs[0])
            add = _plus_one(chain, erf) if erf is not None and erf.op_type == "Erf" else None
            if add is not None:
                return [scale, erf, add], add.outputs[0]
    return None


def _tanh_core(chain: _Chain, x: str, users: list) -> Optional[tuple]:
    """1 + tanh(√(2/π) · (x + 0.044715 · x³)): (nodes, output)."""
    cube = _cube(chain, x, users)
    if cube is None:
        return None
    nodes, c = cube
    coef = chain.only_consumer(c)
    if not _scaled_by(chain, coef, c, 0.044715):
        return None
    inner = chain.only_consumer(coef.outputs[0])
    if inner is None or inner.op_type != "Add" or chain.other_input(inner, coef.outputs[0]) != x:
        return None
    scale = chain.only_consumer(inner.outputs[0])
    if not _scaled_by(chain, scale, inner.outputs[0], _SQRT_2_OVER_PI):
        return None
    tanh = chain.only_consumer(scale.outputs[0])
    add = _plus_one(chain, tanh) if tanh is not None and tanh.op_type == "Tanh" else None
    if add is None:
        return None
    return nodes + [coef, inner, scale, tanh, add], add.outputs[0]


def _match_decomposed_gelu(chain: _Chain, x: str) -> Optional[tuple]:
    """(activation, nodes, output) of GELU as exporters decompose it, reading x:
    erf: x · 0.5 · (1 + erf(x / √2)); tanh: x · 0.5 · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
    Every reader of x and of each intermediate must belong to the pattern."""
    if x in chain.outputs:
        return None
    users = list({id(u): u for u in chain.consumers.get(x, [])}.values())
    for act, core in (("gelu_erf", _erf_core), ("gelu_tanh", _tanh_core)):
        found = core(chain, x, users)
        if found is None:
            continue
        nodes, a = found
        product = _half_product(chain, x, a)
        if product is None:
            continue
        nodes = nodes + product
        ids = {id(n) for n in nodes}
        if any(id(u) not in ids for u in users):
            continue  # x is read elsewhere: it must survive, so the activation cannot move into the kernel
        inner_values = [o for n in nodes for o in n.outputs if n is not product[-1]]
        if any(v in chain.outputs or any(id(u) not in ids for u in chain.consumers.get(v, []))
               for v in inner_values):
            continue
        return act, nodes, product[-1].outputs[0]
    return None


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
    matched = _match_decomposed_gelu(chain, y)
    if matched is not None:
        act, nodes, out = matched
        packed.attrs["activation"] = act
        packed.outputs = [out]
        return {id(n) for n in nodes}
    return None


def fuse_epilogue(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    for step in (_fuse_bias, _fuse_residual, _fuse_activation):
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
