"""Compile a Graph once into a Plan: precompiled kernels over integer value slots.

The executor then runs ``for kernel, ins, outs, frees, node in plan.steps`` with no name lookups.
Slot 0 always holds None (an omitted optional input); slot 1 receives outputs nobody named.
A value's slot is cleared right after its last consumer (liveness), so intermediates are freed
as early as possible; constants and graph outputs are never cleared.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import OpError, SparseRuntimeError, UnsupportedOpError
from ..ir import Graph
from ..ops import OpContext, lookup
from .fallback import reference_factory

NONE_SLOT = 0
DISCARD_SLOT = 1
LOWERED_DOMAIN = "sparse_runtime"


@dataclass
class Plan:
    steps: list  # (kernel, in_slots tuple, out_slots tuple, free_slots tuple, node)
    template: list  # initial slot values: constants filled in, everything else None
    slot_of: dict  # value name -> slot
    input_slots: list  # aligned with graph.inputs
    output_slots: list  # aligned with graph.outputs
    output_is_const: list  # graph outputs that are constants are copied before being returned
    output_names: list
    meta: list = field(default_factory=list)  # per step: dict describing the node (for tools/tests)

    @property
    def num_slots(self) -> int:
        return len(self.template)


def node_opset(graph: Graph, node) -> int:
    if node.domain == "":
        return graph.opset
    return graph.opsets.get(node.domain, 1)


def compile_graph_node(node, graph: Graph, threads=None, fallback=None):
    """Kernel for one node, with every failure reported against the node. Returns (kernel, spec);
    spec is None when the node runs through the ``fallback="reference"`` wrapper."""
    try:
        spec = lookup(node)  # UnsupportedOpError naming the node
        opset = node_opset(graph, node)
        if node.domain == "" and spec.since > opset:
            raise UnsupportedOpError(f"{node.describe()}: sparse_runtime implements {node.op_type} from opset "
                                     f"{spec.since}, the model uses opset {opset}")
        kernel = _compile(spec, node, graph, opset, threads)
    except UnsupportedOpError:
        if fallback != "reference":
            raise
        return reference_factory(node, graph.opsets), None
    return kernel, spec


def _compile(spec, node, graph, opset, threads):
    try:
        kernel = spec.factory(node, OpContext(opset=opset, graph=graph, threads=threads))
    except SparseRuntimeError:
        raise
    except Exception as e:  # a factory bug or an unexpected attribute: still say which node
        raise OpError(node, f"cannot compile: {type(e).__name__}: {e}") from e
    if not callable(kernel):
        raise OpError(node, f"op factory returned {type(kernel).__name__}, expected a kernel callable")
    return kernel


def build_plan(graph: Graph, threads=None, fallback=None) -> Plan:
    """``fallback="reference"``: nodes we cannot compile run in onnx.reference (see fallback.py)."""
    slot_of = {}
    template = [None, None]

    def new_slot(name, value=None):
        slot_of[name] = len(template)
        template.append(value)
        return slot_of[name]

    input_slots = [new_slot(vi.name) for vi in graph.inputs]
    used = {i for n in graph.nodes for i in n.inputs if i} | {o.name for o in graph.outputs}
    consts = set()
    for name, arr in graph.initializers.items():
        if name in used and name not in slot_of:
            new_slot(name, arr)
            consts.add(name)

    compiled = []
    for node in graph.nodes:  # compile everything first: unsupported ops fail here, not at run time
        compiled.append(compile_graph_node(node, graph, threads, fallback))
        for o in node.outputs:
            if o:
                new_slot(o)

    graph_outputs = {o.name for o in graph.outputs}
    last_use = {}
    for idx, node in enumerate(graph.nodes):
        for i in node.inputs:
            if i:
                last_use[i] = idx
    frees = [[] for _ in graph.nodes]
    for idx, node in enumerate(graph.nodes):
        for o in node.outputs:
            if o and o not in graph_outputs and o not in last_use:
                frees[idx].append(slot_of[o])  # produced but never read
        if any(not o for o in node.outputs):
            frees[idx].append(DISCARD_SLOT)
    for name, idx in last_use.items():
        if name not in graph_outputs and name not in consts:
            frees[idx].append(slot_of[name])

    name_of = {s: n for n, s in slot_of.items()}
    steps, meta = [], []
    for idx, (node, (kernel, spec)) in enumerate(zip(graph.nodes, compiled)):
        ins = tuple(slot_of[i] if i else NONE_SLOT for i in node.inputs)
        outs = tuple(slot_of[o] if o else DISCARD_SLOT for o in node.outputs)
        steps.append((kernel, ins, outs, tuple(frees[idx]), node))
        meta.append({"name": node.name, "op": node.op_type, "domain": node.domain,
                     "native": bool(spec and spec.native), "fallback": spec is None,
                     "inputs": list(node.inputs), "outputs": list(node.outputs),
                     "frees": [name_of[s] for s in frees[idx] if s in name_of]})
    try:
        output_slots = [slot_of[o.name] for o in graph.outputs]
    except KeyError as e:
        raise SparseRuntimeError(f"graph output {e} is not produced by any node, input or initializer") from None
    return Plan(steps=steps, template=template, slot_of=slot_of, input_slots=input_slots,
                output_slots=output_slots, output_is_const=[o.name in consts for o in graph.outputs],
                output_names=[o.name for o in graph.outputs],
                meta=meta)
