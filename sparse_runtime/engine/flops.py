"""FLOP estimates per node, from the shapes one real run produced.

The model (what sparse-bench reports; keep docs/sparse-bench.md in step with it):
* MatMul / Gemm / Conv and the lowered PackedMatMul / PackedConv: 2 x output elements x the
  reduction length (K, or Ci/group x kernel taps). This is the *dense* count: what the layer
  costs if every weight were non-zero. The *nonzero* count scales it by the weight's density.
  A fused bias or activation is not counted (it is noise next to the reduction).
* Elementwise ops (Add, Mul, Relu, Erf, ...): 1 per output element.
* Softmax, LayerNormalization, reductions and friends: a few per input element (see _PER_INPUT).
* Everything else (Reshape, Transpose, Gather, Shape, ...): 0; they move data, they do not compute.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

LOWERED_DOMAIN = "sparse_runtime"

_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Exp", "Log", "Erf", "Tanh",
    "Sigmoid", "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Gelu", "Clip",
    "Max", "Min", "Sum", "Mean", "Where", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", "Softplus",
    "Mish", "BatchNormalization",
}
# flops per *input* element: softmax = max, sub, exp, sum, div; layernorm = mean, var, normalize, affine
_PER_INPUT = {
    "Softmax": 5, "LogSoftmax": 5, "LayerNormalization": 8, "InstanceNormalization": 8,
    "ReduceMean": 1, "ReduceSum": 1, "ReduceMax": 1, "ReduceMin": 1, "ReduceL2": 2, "ReduceSumSquare": 2,
    "GlobalAveragePool": 1, "GlobalMaxPool": 1, "AveragePool": 1, "MaxPool": 1,
}


def _size(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def node_flops(node, in_shapes, out_shapes, initializers: Optional[dict] = None) -> tuple:
    """``(dense_flops, nonzero_flops)`` of one node. ``initializers`` gives the constant weights of
    MatMul/Gemm/Conv that were not lowered, to count their zeros."""
    out0 = out_shapes[0] if out_shapes else None
    if out0 is None:
        return 0, 0
    op = node.op_type
    if node.domain == LOWERED_DOMAIN and op in ("PackedMatMul", "PackedConv"):
        info = node.attrs.get("kernel_info") or {}
        w_shape = info.get("weight_shape")
        if not w_shape or len(out0) < 1:
            return 0, 0
        out_ch = out0[1] if op == "PackedConv" else out0[-1]  # NCHW vs [..., N]
        dense = 2 * _size(out0) * _size(w_shape) // max(1, int(out_ch))
        return dense, int(round(dense * (1.0 - float(info.get("sparsity") or 0.0))))
    if node.domain == LOWERED_DOMAIN and op == "FusedAttention" and "qkv" in node.attrs:
        x = in_shapes[0] if in_shapes else None  # the packed projection [B, S, W]
        if not x or len(x) != 3:
            return 0, 0
        scores = int(x[0]) * node.attrs["qkv"]["heads"] * int(x[1]) * int(x[1])
        dense = 4 * scores * node.attrs["qkv"]["head_dim"] + 4 * scores  # QKᵀ, PV, softmax
        return dense, dense
    if node.domain == LOWERED_DOMAIN and op == "FusedAttention":
        q = in_shapes[0] if in_shapes else None
        kt = in_shapes[1] if len(in_shapes) > 1 else None
        if not q or not kt:
            return 0, 0
        scores = _size(out0[:-1]) * int(kt[-1])
        dense = 2 * scores * int(q[-1]) + 2 * _size(out0) * int(kt[-1]) + 4 * scores  # QKᵀ, PV, softmax
        return dense, dense
    if op in ("MatMul", "Gemm", "Conv"):
        a = in_shapes[0] if in_shapes else None
        w = in_shapes[1] if len(in_shapes) > 1 else None
        if a is None or w is None or not a:
            return 0, 0
        if op == "MatMul":
            k = a[-1]
        elif op == "Gemm":
            k = a[0] if node.attrs.get("transA", 0) else a[-1]
        else:
            k = _size(w[1:])  # Ci/group x taps
        dense = 2 * _size(out0) * int(k)
        weight = (initializers or {}).get(node.inputs[1])
        if weight is None or weight.size == 0:
            return dense, dense
        return dense, int(round(dense * np.count_nonzero(weight) / weight.size))
    if op in _ELEMENTWISE:
        return _size(out0), _size(out0)
    if op in _PER_INPUT:
        n = _PER_INPUT[op] * _size(in_shapes[0] if in_shapes else None)
        return n, n
    return 0, 0


def weight_sparsity(node, initializers: dict) -> Optional[float]:
    """Fraction of zeros in the node's weight: from kernel_info for a lowered node, from the
    constant for a MatMul/Gemm/Conv that stayed on numpy; None for nodes without a weight."""
    if node.domain == LOWERED_DOMAIN:
        s = (node.attrs.get("kernel_info") or {}).get("sparsity")
        return float(s) if s is not None else None
    if node.op_type in ("MatMul", "Gemm", "Conv") and len(node.inputs) > 1:
        w = initializers.get(node.inputs[1])
        if w is not None and w.size:
            return 1.0 - np.count_nonzero(w) / w.size
    return None


def model_weight_sparsity(graph) -> Optional[float]:
    """Zeros / elements over all weights of MatMul/Gemm/Conv layers (lowered or not); None if none."""
    zeros = total = 0
    for node in graph.nodes:
        if node.domain == LOWERED_DOMAIN:
            info = node.attrs.get("kernel_info") or {}
            n = _size(info.get("weight_shape"))
            zeros += int(round(n * float(info.get("sparsity") or 0.0)))
            total += n
        elif node.op_type in ("MatMul", "Gemm", "Conv") and len(node.inputs) > 1:
            w = graph.initializers.get(node.inputs[1])
            if w is not None:
                zeros += w.size - int(np.count_nonzero(w))
                total += w.size
    return zeros / total if total else None
