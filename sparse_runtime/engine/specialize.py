"""Plans specialised per concrete input signature, for models with symbolic dims.

At compile time, ``fold_constants`` can only fold ``Shape`` when shapes are static, so a model
exported with symbolic ``batch``/``sequence`` keeps its whole shape arithmetic (the
Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains of torch exports) in the run loop. Those
values depend on the input *shapes* only, never on input data. So for each new signature (tuple
of input shapes) we run the generic plan once, capture the shape values it computed, turn them
into constants of a copy of the compiled graph and plan that copy: later runs with the same
signature skip the shape arithmetic entirely. The copy shares node attributes with the compiled
graph, so packed weights are packed once and shared by every plan.

The analysis is conservative: a value is "shape-derived" only if it is Shape/Size of a tensor
whose shape provably depends on input shapes alone (no NonZero, Unique, data-valued Reshape
targets, ...), or a deterministic default-domain op applied to constants and shape-derived values.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..ir import ValueInfo
from ..passes import PassContext
from ..passes.eliminate_dead_nodes import eliminate_dead_nodes
from ..passes.fuse_attention_heads import fuse_attention_heads
from .executor import execute
from .planner import LOWERED_DOMAIN, build_plan

DEFAULT_CACHE_SIZE = 8
MAX_CONST_BYTES = 16 << 20

# Ops whose output shape depends on input *values* in ways we do not model.
_DATA_DEPENDENT = frozenset({"NonZero", "Unique", "Compress", "NonMaxSuppression", "Loop", "If", "Scan",
                             "TfIdfVectorizer", "StringSplit", "RegexFullMatch", "StringNormalizer",
                             "SplitToSequence", "ConcatFromSequence", "SequenceAt", "SequenceConstruct",
                             "SequenceInsert", "SequenceErase", "SequenceEmpty", "SequenceMap",
                             "OptionalGetElement", "Optional", "ImageDecoder"})
# Inputs whose *values* set the output shape: the output shape is signature-determined only if
# these are constants or shape-derived.
_SHAPE_VALUE_INPUTS = {"Reshape": (1,), "Expand": (1,), "Tile": (1,), "Slice": (1, 2, 3, 4), "Pad": (1, 3),
                       "ConstantOfShape": (0,), "Range": (0, 1, 2), "OneHot": (1,), "Resize": (1, 2, 3),
                       "Upsample": (1,), "TopK": (1,), "Squeeze": (1,), "Unsqueeze": (1,), "Split": (1,),
                       "CenterCropPad": (1,), "Col2Im": (1, 2), "MaxUnpool": (2,), "DFT": (2,),
                       "STFT": (2, 3), "BlackmanWindow": (0,), "HannWindow": (0,), "HammingWindow": (0,),
                       "MelWeightMatrix": (0, 1), "EyeLike": (), "RandomNormalLike": ()}
_NONDETERMINISTIC = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                               "Multinomial", "Bernoulli", "Dropout"})


def _value_inputs(node):
    if node.op_type.startswith("Reduce"):
        return (1,)  # opset-18 axes input
    return _SHAPE_VALUE_INPUTS.get(node.op_type, ())


def shape_derived_values(graph) -> list:
    """Names of node outputs that are functions of the input signature only (in topological order).
    Empty when the graph computes nothing from shapes (then one plan serves every signature)."""
    static_shape = {vi.name for vi in graph.inputs} | set(graph.initializers)
    static_value = set(graph.initializers)
    derived, from_shape = [], False
    for node in graph.nodes:
        ins = [i for i in node.inputs if i]
        outs = [o for o in node.outputs if o]
        default = node.domain == ""
        if default and node.op_type in ("Shape", "Size") and ins and ins[0] in static_shape:
            from_shape = True
        elif not (default and ins and node.op_type not in _NONDETERMINISTIC
                  and all(i in static_value for i in ins)):
            if node.domain not in ("", LOWERED_DOMAIN) or node.op_type in _DATA_DEPENDENT:
                continue
            vals = [node.inputs[k] for k in _value_inputs(node) if k < len(node.inputs) and node.inputs[k]]
            if all(i in static_shape for i in ins) and all(v in static_value for v in vals):
                static_shape.update(outs)
            continue
        static_shape.update(outs)
        static_value.update(outs)
        derived.extend(outs)
    return derived if from_shape else []


class PlanCache:
    """Bounded LRU of plans keyed by input signature, over one compiled (lowered) graph."""

    def __init__(self, graph, threads=None, fallback=None, capacity=DEFAULT_CACHE_SIZE):
        if capacity < 1:
            raise ValueError(f"plan cache capacity must be >= 1, got {capacity}")
        self.graph = graph
        self.threads = threads
        self.fallback = fallback
        self.capacity = capacity
        self.derived = shape_derived_values(graph)
        self._plans = OrderedDict()
        self._probe = None  # generic plan that also outputs the derived values
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.derived)

    def signatures(self) -> list:
        with self._lock:
            return list(self._plans)

    def get(self, signature):
        with self._lock:
            plan = self._plans.get(signature)
            if plan is not None:
                self._plans.move_to_end(signature)
            return plan

    def probe_and_specialize(self, signature, feeds) -> list:
        """Run the generic plan on ``feeds`` (returns its outputs) and cache the specialised plan."""
        with self._lock:
            if self._probe is None:
                g = self.graph.copy()
                known = {o.name for o in g.outputs}
                g.outputs = g.outputs + [ValueInfo(n) for n in self.derived if n not in known]
                self._probe = build_plan(g, threads=self.threads, fallback=self.fallback)
            probe = self._probe
        n_out = len(self.graph.outputs)
        results = execute(probe, feeds)
        values = dict(zip(probe.output_names, results))
        plan = build_plan(self.specialize(values), threads=self.threads, fallback=self.fallback)
        with self._lock:
            self._plans[signature] = plan
            self._plans.move_to_end(signature)
            while len(self._plans) > self.capacity:
                self._plans.popitem(last=False)
        return results[:n_out]

    def specialize(self, values: dict):
        """Copy of the graph with the derived values as constants and their producers removed.
        Values over MAX_CONST_BYTES (e.g. a ConstantOfShape mask) stay computed: up to
        ``capacity`` plans would each hold a copy."""
        g = self.graph.copy()
        derived = set(self.derived)
        big = {n for n in derived if getattr(values[n], "nbytes", 0) > MAX_CONST_BYTES}
        kept = []
        for node in g.nodes:
            outs = [o for o in node.outputs if o]
            if not any(o in derived for o in outs) or any(o in big for o in outs):
                kept.append(node)
            else:
                for o in outs:
                    g.initializers[o] = values[o]
        g.nodes = kept
        ctx = PassContext(opset=g.opset)
        # With the shapes constant, attention can read its heads from the packed projection.
        return eliminate_dead_nodes(fuse_attention_heads(eliminate_dead_nodes(g, ctx), ctx), ctx)
