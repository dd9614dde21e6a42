"""Replace MatMul / Gemm / Conv whose weight is a constant by packed native kernels.

Each weight is packed once here, in the format ``kernels.choose_format`` measures fastest for the
layer's real shape (dense panels, CSR, BSR 4x1 / 1x4, 2:4). Layers we cannot lower (non-float32,
a non-constant weight, 3-D convs, transposed A in Gemm, ...) stay as they are and run on the numpy
ops. Bias and activation are attached afterwards by fuse_epilogue.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import kernels
from ..ir import Graph, Node
from .context import PassContext

DEFAULT_ROWS = 128  # tokens assumed for a MatMul whose row count is symbolic
DEFAULT_PIXELS = 196


def _static_size(graph: Graph, name: str, dims: slice) -> Optional[int]:
    info = graph.value_info.get(name)
    if info is None or info.shape is None:
        return None
    picked = info.shape[dims]
    if not all(isinstance(d, int) and d > 0 for d in picked):
        return None
    return int(math.prod(picked))


def _info(fmt_choice, source_op: str, weight_nk: np.ndarray, weight_shape, groups: int = 1) -> dict:
    total = weight_nk.size
    zeros = int(total - np.count_nonzero(weight_nk))
    return {
        "kernel": kernels.kernel_name(fmt_choice.format),
        "format": fmt_choice.format,
        "sparsity": zeros / total if total else 0.0,
        "weight_shape": tuple(int(d) for d in weight_shape),
        "source_op": source_op,
        "groups": groups,
        "choice": fmt_choice.reason,
        "timings_ms": dict(fmt_choice.timings_ms),
    }


def _float32_const(graph: Graph, name: str) -> Optional[np.ndarray]:
    w = graph.initializers.get(name) if name else None
    if w is None or w.dtype != np.float32:
        return None
    return w


def _lower_matmul(graph: Graph, node: Node, ctx: PassContext) -> Optional[Node]:
    w = _float32_const(graph, node.inputs[1])
    if w is None or w.ndim != 2 or node.inputs[0] in graph.initializers:
        return None
    info = graph.value_info.get(node.inputs[0])
    if info is not None and info.dtype is not None and info.dtype != np.float32:
        return None
    if info is not None and info.shape is not None and len(info.shape) < 2:
        return None  # 1-D activations: the numpy op handles ONNX's vector rules
    weight_nk = np.ascontiguousarray(w.T)
    rows = _static_size(graph, node.inputs[0], slice(0, -1)) or DEFAULT_ROWS
    return _packed_matmul(node, node.inputs[0], weight_nk, None, "MatMul", w.shape, rows, ctx)


def _lower_gemm(graph: Graph, node: Node, ctx: PassContext) -> Optional[Node]:
    w = _float32_const(graph, node.inputs[1])
    if w is None or w.ndim != 2 or node.attrs.get("transA", 0) or node.inputs[0] in graph.initializers:
        return None
    alpha = float(node.attrs.get("alpha", 1.0))
    beta = float(node.attrs.get("beta", 1.0))
    weight_kn = w.T if node.attrs.get("transB", 0) else w
    n = weight_kn.shape[1]
    bias = None
    if len(node.inputs) > 2 and node.inputs[2]:
        c = _float32_const(graph, node.inputs[2])
        # Only a C that broadcasts along rows can become a per-output bias.
        if c is None or c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
            return None
        bias = np.broadcast_to(c.reshape(-1), (n,)).astype(np.float32) * np.float32(beta)
    weight_nk = np.ascontiguousarray(weight_kn.T * np.float32(alpha), dtype=np.float32)
    rows = _static_size(graph, node.inputs[0], slice(0, 1)) or DEFAULT_ROWS
    return _packed_matmul(node, node.inputs[0], weight_nk, bias, "Gemm", w.shape, rows, ctx)


def _packed_matmul(node, x_name, weight_nk, bias, source_op, weight_shape, rows, ctx) -> Node:
    choice = kernels.choose_format(weight_nk, rows, ctx.weight_format)
    packed = kernels.pack(weight_nk, choice.format)
    return Node(
        op_type="PackedMatMul", domain="sparse_runtime", name=node.name,
        inputs=[x_name], outputs=[node.outputs[0]],
        attrs={"weight": packed, "bias": bias, "activation": "none",
               "kernel_info": _info(choice, source_op, weight_nk, weight_shape)},
    )


def _lower_conv(graph: Graph, node: Node, ctx: PassContext) -> Optional[Node]:
    w = _float32_const(graph, node.inputs[1])
    if w is None or w.ndim not in (3, 4) or node.inputs[0] in graph.initializers:
        return None
    bias = None
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = _float32_const(graph, node.inputs[2])
        if bias is None:
            return None
    group = int(node.attrs.get("group", 1))
    co = w.shape[0]
    if group < 1 or co % group:
        return None  # the numpy op reports the error with its own message
    spatial = w.ndim - 2
    kernel_shape = list(node.attrs.get("kernel_shape") or w.shape[2:])
    if list(w.shape[2:]) != kernel_shape:
        return None
    cog = co // group
    mats = [np.ascontiguousarray(w[g * cog:(g + 1) * cog].reshape(cog, -1)) for g in range(group)]
    pixels = _static_size(graph, node.outputs[0], slice(2, None)) or DEFAULT_PIXELS
    whole = w.reshape(co, -1)
    # One format for all groups, chosen on the first group (groups share shape and statistics).
    choice = kernels.choose_format(mats[0], pixels, ctx.weight_format, layout="channels") if cog >= 8 else None
    if choice is None:  # a handful of outputs per group: dense panels of 32 would waste most lanes
        choice = kernels.FormatChoice("csr", {}, "modelled: fewer than 8 outputs per group")
    packed = [kernels.pack(m, choice.format) for m in mats]
    attrs = {
        "weights": packed, "bias": None if bias is None else bias.astype(np.float32),
        "activation": "none", "kernel_shape": kernel_shape,
        "strides": list(node.attrs.get("strides") or [1] * spatial),
        "dilations": list(node.attrs.get("dilations") or [1] * spatial),
        "pads": list(node.attrs.get("pads") or [0] * (2 * spatial)),
        "auto_pad": node.attrs.get("auto_pad", "NOTSET"),
        "group": group,
        "kernel_info": _info(choice, "Conv", whole, w.shape, group),
    }
    return Node(op_type="PackedConv", domain="sparse_runtime", name=node.name,
                inputs=[node.inputs[0]], outputs=[node.outputs[0]], attrs=attrs)


_LOWERINGS = {"MatMul": _lower_matmul, "Gemm": _lower_gemm, "Conv": _lower_conv}


def lower_linear(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    out = []
    for node in g.nodes:
        lower = _LOWERINGS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        new = lower(g, node, ctx) if lower else None
        out.append(new if new is not None else node)
    g.nodes = out
    return g
