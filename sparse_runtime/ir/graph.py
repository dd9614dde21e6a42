"""The in-memory graph every pass and the executor work on.

Kept deliberately plain: lists of nodes in topological order, numpy arrays for constants,
and decoded attributes, so a pass is a small pure function Graph -> Graph.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

# Dimension of a shape: a concrete int, a symbolic name ("batch"), or None when unknown.
Dim = Any


@dataclass
class ValueInfo:
    """Name, element type and (possibly symbolic) shape of a graph value."""

    name: str
    dtype: Optional[np.dtype] = None
    shape: Optional[tuple] = None  # tuple of Dim, or None when the rank is unknown


@dataclass
class Node:
    """One operator application.

    ``inputs`` holds value names; an omitted optional input is ``""``. ``attrs`` holds decoded
    ONNX attributes: int, float, str, list of those, np.ndarray for TENSOR, Graph for GRAPH.
    Lowered nodes (domain ``sparse_runtime``) may also carry native objects such as packed weights.
    """

    op_type: str
    inputs: list
    outputs: list
    name: str = ""
    attrs: dict = field(default_factory=dict)
    domain: str = ""

    def describe(self) -> str:
        """Short 'where' text used in error messages."""
        label = self.name or (self.outputs[0] if self.outputs else "?")
        return f"node '{label}' ({self.op_type})"


@dataclass
class Graph:
    nodes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # ValueInfo of real inputs (initializers excluded)
    outputs: list = field(default_factory=list)  # ValueInfo
    initializers: dict = field(default_factory=dict)  # name -> np.ndarray
    value_info: dict = field(default_factory=dict)  # name -> ValueInfo (inferred shapes)
    opsets: dict = field(default_factory=dict)  # domain -> version; "" is the default ONNX domain
    name: str = "graph"

    @property
    def opset(self) -> int:
        return self.opsets.get("", self.opsets.get("ai.onnx", 1))

    def copy(self) -> "Graph":
        """Shallow-enough copy for a pure pass: new node list and dicts, shared arrays."""
        g = copy.copy(self)
        g.nodes = [copy.copy(n) for n in self.nodes]
        for n in g.nodes:
            n.attrs = dict(n.attrs)
            n.inputs = list(n.inputs)
            n.outputs = list(n.outputs)
        g.inputs = list(self.inputs)
        g.outputs = list(self.outputs)
        g.initializers = dict(self.initializers)
        g.value_info = dict(self.value_info)
        g.opsets = dict(self.opsets)
        return g

    def producers(self) -> dict:
        """value name -> node that produces it."""
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict:
        """value name -> list of nodes that read it (graph outputs are not counted)."""
        out: dict = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    out.setdefault(i, []).append(n)
        return out
