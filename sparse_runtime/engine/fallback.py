"""Optional per-node fallback to ``onnx.reference`` for operators sparse_runtime does not implement.

Off by default: ``Engine(model, fallback="reference")`` opts in. Every node that falls back is
listed by ``Engine.fallback_nodes`` and ``Engine.report()``, because it runs in onnx's pure-Python
evaluator (often 10-1000x slower than our kernels) and a silent slow path is what users of
DeepSparse complained about.

The wrapper is an ordinary op factory: it rebuilds the node as a one-node ONNX model, compiles a
``ReferenceEvaluator`` for it once, and the kernel feeds it the node's inputs by name.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import UnsupportedOpError
from ..ir import Graph as IRGraph

MODES = (None, "reference")
KERNEL_NAME = "onnx.reference"


def check_mode(fallback):
    if fallback not in MODES:
        raise ValueError(f"fallback must be None or 'reference', got {fallback!r}")
    return fallback


def reference_factory(node, opsets: dict):
    """Kernel running ``node`` with onnx.reference.ReferenceEvaluator (compiled once, here)."""
    from onnx.reference import ReferenceEvaluator  # lazy: only models that fall back pay for it

    try:
        proto = _node_proto(node)
        model = _one_node_model(proto, opsets)
        evaluator = ReferenceEvaluator(model)
    except Exception as e:
        raise UnsupportedOpError(f"{node.describe()}: not implemented by sparse_runtime, and the "
                                 f"onnx.reference fallback cannot compile it either: {type(e).__name__}: {e}") from e
    in_names = [i for i in node.inputs if i]
    n_out = len(node.outputs)

    def kernel(inputs):
        feeds = {name: x for name, x in zip(node.inputs, inputs) if name}
        res = evaluator.run(None, {n: feeds[n] for n in in_names})
        return [r if isinstance(r, (np.ndarray, list)) or r is None else np.asarray(r) for r in res[:n_out]]

    return kernel


def _node_proto(node):
    attrs = {k: _encode_attr(v) for k, v in node.attrs.items()}
    return helper.make_node(node.op_type, list(node.inputs), list(node.outputs),
                            name=node.name or None, domain=node.domain or None, **attrs)


def _encode_attr(v):
    # Node.attrs holds decoded values; helper.make_attribute needs TensorProto for tensors.
    if isinstance(v, np.ndarray):
        return numpy_helper.from_array(v)
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [numpy_helper.from_array(a) for a in v]
    if isinstance(v, IRGraph):
        raise UnsupportedOpError("subgraph attributes in the IR cannot be re-encoded")
    return v


def _one_node_model(proto, opsets):
    empty = onnx.TypeProto()
    inputs = [helper.make_value_info(i, empty) for i in dict.fromkeys(proto.input) if i]
    outputs = [helper.make_value_info(o, empty) for o in proto.output if o]
    graph = helper.make_graph([proto], "fallback", inputs, outputs)
    imports = [helper.make_opsetid(d, v) for d, v in opsets.items()]
    if proto.domain and proto.domain not in opsets:
        imports.append(helper.make_opsetid(proto.domain, 1))
    return helper.make_model(graph, opset_imports=imports)
