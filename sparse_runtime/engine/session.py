"""Engine: load -> passes -> plan, once; ``run`` only validates inputs and executes the plan."""
from __future__ import annotations

import difflib
import os
import time

import numpy as np

from ..errors import InputError
from ..loader import load_model
from ..passes import PassContext, run_pipeline
from .executor import execute, execute_debug
from .fallback import KERNEL_NAME as FALLBACK_KERNEL
from .fallback import check_mode as check_fallback_mode
from .planner import LOWERED_DOMAIN, build_plan
from .specialize import DEFAULT_CACHE_SIZE, PlanCache

_REPORT_KEYS = ("kernel", "format", "sparsity", "weight_shape", "source_op")


def _set_native_threads(threads):
    try:
        from .. import kernels
    except ImportError:  # native module not built (yet): nothing to configure
        return False
    setter = getattr(kernels, "set_num_threads", None)
    if setter is None:
        return False
    setter(int(threads))
    return True


class Engine:
    """Compiled model.

    ``Engine(model, batch_size=None, threads=None, debug=False)``: ``model`` is a path, bytes or
    ``onnx.ModelProto``. ``batch_size`` fixes the first dimension of every input (rank >= 1).
    ``threads`` sizes the native thread pool. ``debug`` verifies the IR between passes and
    checks every kernel result while running (slow).
    ``options`` are passed to the passes (``PassContext.options``).
    ``fallback="reference"`` runs operators sparse_runtime does not implement with
    ``onnx.reference`` (slow; off by default, listed by ``fallback_nodes`` and ``report()``).
    Models with symbolic input dims get one plan per input signature (shape arithmetic folded),
    kept in an LRU of ``plan_cache_size`` entries that share the packed weights.
    """

    def __init__(self, model, batch_size=None, threads=None, debug=False, options=None, fallback=None,
                 plan_cache_size=DEFAULT_CACHE_SIZE):
        t0 = time.perf_counter()
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
                raise ValueError(f"threads must be a positive int, got {threads!r}")
            _set_native_threads(threads)
        self._source = (os.fspath(model) if isinstance(model, (str, os.PathLike))
                        else type(model).__name__)
        self.batch_size = batch_size
        self.threads = threads
        self.debug = bool(debug)
        self.fallback = check_fallback_mode(fallback)
        graph = load_model(model, batch_size=batch_size)
        ctx = PassContext(opset=graph.opset, threads=threads, debug=self.debug, options=dict(options or {}),
                          weight_format=(options or {}).get("weight_format", "auto"))
        self._graph = run_pipeline(graph, ctx)
        self._plan = build_plan(self._graph, threads=threads, fallback=self.fallback)
        self._plans = PlanCache(self._graph, threads=threads, fallback=self.fallback, capacity=plan_cache_size)
        self._input_names = [vi.name for vi in self._graph.inputs]
        self._input_index = {n: i for i, n in enumerate(self._input_names)}
        # Per input: (name, dtype or None, rank or None, ((axis, size), ...) for static dims)
        self._checks = []
        for vi in self._graph.inputs:
            shape = vi.shape
            static = () if shape is None else tuple((ax, d) for ax, d in enumerate(shape) if isinstance(d, int))
            self._checks.append((vi.name, vi.dtype, None if shape is None else len(shape), static))
        self.compile_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------------------ properties
    @property
    def graph(self):
        return self._graph

    @property
    def plan(self):
        return self._plan

    @property
    def input_names(self) -> list:
        return list(self._input_names)

    @property
    def output_names(self) -> list:
        return [vi.name for vi in self._graph.outputs]

    @property
    def input_shapes(self) -> list:
        return [tuple(vi.shape) if vi.shape is not None else None for vi in self._graph.inputs]

    @property
    def input_dtypes(self) -> list:
        return [vi.dtype for vi in self._graph.inputs]

    @property
    def output_shapes(self) -> list:
        return [tuple(vi.shape) if vi.shape is not None else None for vi in self._graph.outputs]

    @property
    def output_dtypes(self) -> list:
        return [vi.dtype for vi in self._graph.outputs]

    # ------------------------------------------------------------------------------------- run
    def run(self, inputs) -> list:
        """Run once. ``inputs``: list/tuple in ``input_names`` order, or dict name -> array.
        Returns a list of numpy arrays in ``output_names`` order."""
        feeds = self._validate(inputs)
        if self.debug:  # the generic plan: every node, every kernel result checked
            return execute_debug(self._plan, feeds, self._graph.value_info)
        if self._plans.enabled:
            signature = tuple(a.shape for a in feeds)
            plan = self._plans.get(signature)
            if plan is None:  # first run at this signature: generic plan, then cache a specialised one
                return self._plans.probe_and_specialize(signature, feeds)
            return execute(plan, feeds)
        return execute(self._plan, feeds)

    __call__ = run

    def plan_for(self, inputs):
        """The plan a run with these (validated) inputs' shapes uses, once cached; else the generic one."""
        feeds = self._validate(inputs)
        if self._plans.enabled:
            return self._plans.get(tuple(a.shape for a in feeds)) or self._plan
        return self._plan

    @property
    def cached_signatures(self) -> list:
        """Input signatures (tuples of shapes) with a specialised plan, least recently used first."""
        return self._plans.signatures()

    @property
    def fallback_nodes(self) -> list:
        """Nodes that run in onnx.reference (``fallback="reference"``): dicts with name and op."""
        return [{"name": m["name"] or (m["outputs"][0] if m["outputs"] else "?"), "op": m["op"],
                 "domain": m["domain"]} for m in self._plan.meta if m.get("fallback")]

    def _validate(self, inputs) -> list:
        names = self._input_names
        if isinstance(inputs, dict):
            if len(inputs) != len(names) or not all(k in self._input_index for k in inputs):
                self._dict_error(inputs)
            arrays = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) != len(names):
                raise InputError(f"expected {len(names)} input(s) {names}, got a {type(inputs).__name__} "
                                 f"of {len(inputs)}")
            arrays = inputs
        elif isinstance(inputs, np.ndarray):
            raise InputError(f"run() takes a list or dict of arrays, got a bare ndarray; pass [array] "
                             f"(model inputs: {names})")
        else:
            raise InputError(f"run() takes a list (in order {names}) or a dict name -> array, "
                             f"got {type(inputs).__name__}")
        for arr, (name, dtype, rank, static) in zip(arrays, self._checks):
            if not isinstance(arr, np.ndarray):
                raise InputError(f"input '{name}': expected a numpy.ndarray, got {type(arr).__name__} "
                                 "(convert it with np.asarray(x, dtype=...))")
            if dtype is not None and arr.dtype != dtype:
                raise InputError(f"input '{name}': expected dtype {dtype}, got {arr.dtype} "
                                 f"(no implicit casting; use x.astype(np.{dtype.name}))")
            if rank is not None:
                if arr.ndim != rank:
                    raise InputError(f"input '{name}': expected rank {rank} (shape {self._fmt(name)}), "
                                     f"got rank {arr.ndim} (shape {arr.shape})")
                shape = arr.shape
                for ax, d in static:
                    if shape[ax] != d:
                        hint = (f"; the engine was compiled with batch_size={self.batch_size}"
                                if ax == 0 and self.batch_size is not None else "")
                        raise InputError(f"input '{name}': dimension {ax} must be {d} (expected shape "
                                         f"{self._fmt(name)}), got shape {arr.shape}{hint}")
            if not arr.flags.c_contiguous:
                raise InputError(f"input '{name}': array is not C-contiguous (a transposed or sliced "
                                 "view?); pass np.ascontiguousarray(x)")
        return arrays

    def _fmt(self, name):
        vi = self._graph.inputs[self._input_index[name]]
        return "(" + ", ".join(str(d) if d is not None else "?" for d in vi.shape) + ("," if len(vi.shape) == 1 else "") + ")"

    def _dict_error(self, inputs):
        names = self._input_names
        for k in inputs:
            if k not in self._input_index:
                close = difflib.get_close_matches(str(k), names, n=3)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise InputError(f"unknown input {k!r}{hint} (model inputs: {names})")
        missing = [n for n in names if n not in inputs]
        raise InputError(f"missing input(s) {missing} (model inputs: {names})")

    # --------------------------------------------------------------------------------- report
    def report(self) -> list:
        """One dict per lowered layer (a packed weight on native kernels), then one per node that
        fell back to onnx.reference (``kernel`` = "onnx.reference", ``fallback`` = True).
        Other fused native nodes (e.g. FusedLayerNorm) carry no weight and are not listed."""
        out = []
        for node in self._graph.nodes:
            if node.domain != LOWERED_DOMAIN or "kernel_info" not in node.attrs:
                continue
            info = node.attrs.get("kernel_info") or {}
            row = {"name": node.name or (node.outputs[0] if node.outputs else "?"), "op": node.op_type}
            for k in _REPORT_KEYS:
                row[k] = info.get(k)
            row["activation"] = node.attrs.get("activation", "none")
            row["bias"] = node.attrs.get("bias") is not None
            out.append(row)
        for fb in self.fallback_nodes:  # a slow path is never silent
            row = {"name": fb["name"], "op": fb["op"], "kernel": FALLBACK_KERNEL, "format": None,
                   "sparsity": None, "weight_shape": None, "source_op": fb["op"], "fallback": True}
            out.append(row)
        return out

    # ------------------------------------------------------------------ measure (engine/benchmark.py)
    def benchmark(self, inputs=None, time=10.0, warmup=2.0, batch_size=None, scenario="sync", streams=None,
                  **kwargs):
        """Throughput and latency figures (a ``BenchResult``); inputs are generated when omitted.
        See :func:`sparse_runtime.engine.benchmark.benchmark_engine` for the other options."""
        from .benchmark import benchmark_engine

        return benchmark_engine(self, inputs, time=time, warmup=warmup, batch_size=batch_size,
                                scenario=scenario, streams=streams, **kwargs)

    def profile(self, inputs, runs=1):
        """Per-node times over ``runs`` timed runs (a ``Profile`` of ``NodeRecord``s, execution order)."""
        from .profile import profile_engine

        return profile_engine(self, inputs, runs)

    def summary(self) -> str:
        g = self._graph
        counts = {}
        for n in g.nodes:
            key = n.op_type if not n.domain else f"{n.domain}.{n.op_type}"
            counts[key] = counts.get(key, 0) + 1
        lines = [f"Engine({self._source!r}, batch_size={self.batch_size}, threads={self.threads})",
                 "  inputs:  " + ", ".join(f"{vi.name}{_shape_str(vi.shape)} {vi.dtype}" for vi in g.inputs),
                 "  outputs: " + ", ".join(f"{vi.name}{_shape_str(vi.shape)} {vi.dtype}" for vi in g.outputs),
                 f"  {len(g.nodes)} nodes: " + ", ".join(f"{k}x{v}" for k, v in sorted(counts.items()))]
        rows = self.report()
        if not rows:
            lines.append("  no lowered (packed) layers")
            return "\n".join(lines)
        header = ("name", "op", "source_op", "kernel", "format", "sparsity", "weight_shape")
        table = [header] + [(str(r["name"]), str(r["op"]), str(r["source_op"]), str(r["kernel"]),
                             str(r["format"]),
                             f"{r['sparsity']:.1%}" if isinstance(r["sparsity"], (int, float)) else str(r["sparsity"]),
                             str(tuple(r["weight_shape"])) if r["weight_shape"] is not None else "None")
                            for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for i, row in enumerate(table):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
            if i == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _shape_str(shape):
    if shape is None:
        return "[?]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
