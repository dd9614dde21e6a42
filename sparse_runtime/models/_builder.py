"""A tiny helper around ``onnx.helper`` that the generators share.

It hands out unique value names, collects nodes and initializers in order, and knows the few
opset differences the generators meet (Unsqueeze/ReduceMean axes as input vs. attribute).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DEFAULT_OPSET = 17
# IR 8 so that DeepSparse 1.8 (wants IR <= 8, opset <= 17; see DESIGN.md) can load the same files.
DEFAULT_IR_VERSION = 8

_NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.bool_): TensorProto.BOOL,
}


class GraphBuilder:
    """Accumulates nodes/initializers; ``op()`` returns the output name(s) of the new node."""

    def __init__(self, opset: int = DEFAULT_OPSET):
        if opset < 13:
            raise ValueError(f"the model generators need opset >= 13, got {opset}")
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._names: set = set()
        self._counts: dict = {}

    # -- names -------------------------------------------------------------------------------
    def name(self, base: str) -> str:
        """A fresh value/node name derived from ``base`` (``base``, ``base_1``, ...)."""
        n = self._counts.get(base, 0)
        while True:
            cand = base if n == 0 else f"{base}_{n}"
            n += 1
            if cand not in self._names:
                self._counts[base] = n
                self._names.add(cand)
                return cand

    # -- graph pieces ------------------------------------------------------------------------
    def input(self, name: str, elem_type: int, shape: Sequence) -> str:
        self._names.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, name: str, elem_type: int, shape: Sequence) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))

    def init(self, name: str, array: np.ndarray) -> str:
        """Add an initializer (weights, biases, tables)."""
        name = self.name(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def const(self, name: str, array, dtype=np.float32) -> str:
        """A ``Constant`` node, the way torch.onnx.export emits scalars and shape literals."""
        arr = np.asarray(array, dtype=dtype)
        out = self.name(name)
        self.nodes.append(
            helper.make_node("Constant", [], [out], name=out, value=numpy_helper.from_array(arr, out))
        )
        return out

    def op(self, op_type: str, inputs: Sequence[str], name: str, n_out: int = 1,
           out: Optional[str] = None, **attrs):
        """Append a node named ``name``; returns its output name (or a list when n_out > 1).
        ``out`` forces the (single) output's name, e.g. a graph output."""
        node_name = self.name(name)
        outs = [node_name + "_output_0"] if n_out == 1 else [f"{node_name}_output_{i}" for i in range(n_out)]
        if out is not None:
            outs = [out]
        for o in outs:
            self._names.add(o)
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    # -- opset-dependent helpers ---------------------------------------------------------------
    def unsqueeze(self, x: str, axes: Sequence[int], name: str) -> str:
        # Unsqueeze takes axes as an input since opset 13 (the generators require >= 13).
        return self.op("Unsqueeze", [x, self.const(name + "_axes", list(axes), np.int64)], name)

    def reduce_mean(self, x: str, axes: Sequence[int], name: str, keepdims: int = 1) -> str:
        if self.opset >= 18:  # axes became an input in opset 18
            return self.op("ReduceMean", [x, self.const(name + "_axes", list(axes), np.int64)], name,
                           keepdims=keepdims)
        return self.op("ReduceMean", [x], name, axes=list(axes), keepdims=keepdims)

    # -- finish ------------------------------------------------------------------------------
    def model(self, graph_name: str, ir_version: int = DEFAULT_IR_VERSION,
              doc: Optional[str] = None, check: Optional[bool] = None) -> onnx.ModelProto:
        """Assemble the ModelProto. ``check=None`` runs ``onnx.checker`` when the weights are
        under 128 MB: the checker serializes the whole model, ~2 s for BERT-base, and the tests
        check the big models anyway."""
        graph = helper.make_graph(self.nodes, graph_name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", self.opset)],
            producer_name="sparse_runtime.models",
            ir_version=ir_version,
        )
        if doc:
            model.doc_string = doc
        weight_bytes = sum(len(t.raw_data) for t in graph.initializer)
        if check is None:
            check = weight_bytes < 128 * 2**20
        if check and weight_bytes < 2**31 - 2**26:  # protobuf's 2 GiB limit
            onnx.checker.check_model(model)
        return model


def randn(rng: np.random.Generator, shape, std: float = 1.0) -> np.ndarray:
    """float32 normal samples, generated directly in float32 (fast for large tables)."""
    return rng.standard_normal(size=shape, dtype=np.float32) * np.float32(std)


def dim(value: int, symbol: Optional[str]):
    """A shape entry: the symbol when symbolic dims were asked for, else the integer."""
    return symbol if symbol else int(value)


def pruned(weight: np.ndarray, sparsity, pattern: str, layout: Optional[str] = None,
           keep_energy: bool = True) -> np.ndarray:
    """Magnitude-prune ``weight``; with ``keep_energy`` rescale the survivors so that the sum of
    squares is unchanged, which keeps activation scales (and thus test tolerances) independent of
    the sparsity level. Zeros stay exact zeros."""
    from .prune import magnitude_mask

    if pattern != "2:4" and sparsity is not None and float(sparsity) == 0.0:
        return weight
    mask = magnitude_mask(weight, sparsity, pattern, layout)
    out = np.where(mask, weight, np.zeros((), weight.dtype))
    if keep_energy:
        kept = float(np.square(out, dtype=np.float64).sum())
        if kept > 0:
            out *= np.float32(np.sqrt(float(np.square(weight, dtype=np.float64).sum()) / kept))
    return out
