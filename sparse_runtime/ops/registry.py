"""Operator registry: ONNX op_type (and domain) -> factory that compiles one node.

Contract (one op per file in this package):

    @register("Relu")
    def relu(node: Node, ctx: OpContext) -> Kernel:
        ...validate attributes once, at compile time; raise OpError(node, "...") on bad ones...
        return lambda inputs: [np.maximum(inputs[0], 0)]

``Kernel`` is ``Callable[[list[np.ndarray | None]], list[np.ndarray]]``: inputs are aligned with
``node.inputs`` (None for an omitted optional input), and it returns one array per node output
(trailing optional outputs may be omitted). Kernels never mutate their inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..errors import UnsupportedOpError
from ..ir import Graph, Node

Kernel = Callable[[list], list]
Factory = Callable[[Node, "OpContext"], Kernel]

# (domain, op_type) -> (factory, since_opset, native?)
_REGISTRY: dict = {}


@dataclass
class OpContext:
    """What a factory may know about the graph at compile time."""

    opset: int
    graph: Optional[Graph] = None
    threads: Optional[int] = None
    extra: dict = field(default_factory=dict)

    def const(self, name: str) -> Optional[np.ndarray]:
        """Compile-time value of an input if it is an initializer/constant, else None."""
        if not name or self.graph is None:
            return None
        return self.graph.initializers.get(name)

    def value_info(self, name: str):
        if self.graph is None:
            return None
        return self.graph.value_info.get(name)


@dataclass(frozen=True)
class OpSpec:
    op_type: str
    domain: str
    factory: Factory
    since: int  # first opset version supported
    native: bool  # executed by native kernels (vs numpy glue)
    dtypes: tuple  # element types handled, for the support table


def register(op_type: str, domain: str = "", since: int = 1, native: bool = False,
             dtypes: tuple = ("float32",)):
    """Decorator adding a factory to the registry."""

    def wrap(factory: Factory) -> Factory:
        _REGISTRY[(domain, op_type)] = OpSpec(op_type, domain, factory, since, native, tuple(dtypes))
        return factory

    return wrap


def lookup(node: Node) -> OpSpec:
    domain = "" if node.domain in ("", "ai.onnx") else node.domain
    spec = _REGISTRY.get((domain, node.op_type))
    if spec is None:
        where = f" (domain '{node.domain}')" if domain else ""
        raise UnsupportedOpError(
            f"{node.describe()}: operator '{node.op_type}'{where} is not implemented by sparse_runtime"
        )
    return spec


def compile_node(node: Node, ctx: OpContext) -> Kernel:
    return lookup(node).factory(node, ctx)


def all_specs() -> list:
    return sorted(_REGISTRY.values(), key=lambda s: (s.domain, s.op_type))
