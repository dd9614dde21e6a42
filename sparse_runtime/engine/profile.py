"""Per-node timing: ``Engine.profile(inputs, runs=N)`` and onnxruntime-style session profiling.

A :class:`ProfileRecorder` runs a plan through ``executor.execute_profiled`` (the normal ``run``
path is not touched), from any number of threads, and turns the runs so far into a
:class:`Profile`: one record per node with its mean time, output shapes, weight sparsity, kernel
and FLOP estimates. The per-node times include the executor's per-node overhead, so they add up to
the measured run time (``Profile.run_ms``) to within the cost of the clock calls.
``engine/trace.py`` writes a Profile as a Chrome trace.
"""
from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .executor import execute_profiled
from .flops import LOWERED_DOMAIN, node_flops, weight_sparsity


@dataclass
class NodeRecord:
    index: int  # position in the plan (execution order)
    name: str
    op: str  # op type; lowered nodes keep theirs (PackedMatMul) and name the source in source_op
    domain: str
    kernel: str  # native kernel name for lowered nodes, "numpy" otherwise
    native: bool
    source_op: Optional[str]
    output_shapes: list
    weight_sparsity: Optional[float]
    dense_flops: int  # per run, as if the weight were dense (see flops.py)
    nonzero_flops: int  # per run, counting only non-zero weights
    times_ms: list = field(repr=False)  # one per profiled run
    mean_ms: float = 0.0
    percent: float = 0.0  # of the sum over nodes
    # output shapes in each profiled run, where recorded (None for a run without), for traces
    run_output_shapes: list = field(default_factory=list, repr=False)

    @property
    def gflops(self) -> float:
        """Effective GFLOP/s from nonzeros: useful work per second."""
        return self.nonzero_flops / (self.mean_ms * 1e6) if self.mean_ms > 0 else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gflops"] = self.gflops
        d.pop("times_ms")
        d.pop("run_output_shapes")
        return d


@dataclass
class Profile:
    nodes: list  # NodeRecord, in execution order
    run_ms: list  # wall time of each profiled run, measured around the whole execution
    run_start_ms: list = field(default_factory=list)  # start of each run, from the first (for traces)
    run_tids: list = field(default_factory=list)  # native id of the thread of each run (for traces)

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    @property
    def total_ms(self) -> float:
        """Mean measured run time."""
        return float(np.mean(self.run_ms)) if self.run_ms else 0.0

    @property
    def nodes_ms(self) -> float:
        """Sum of the per-node means; close to total_ms (the difference is the run's set-up)."""
        return float(sum(r.mean_ms for r in self.nodes))

    def by_time(self) -> list:
        return sorted(self.nodes, key=lambda r: r.mean_ms, reverse=True)

    def to_dict(self) -> dict:
        return {"runs": len(self.run_ms), "total_ms": self.total_ms, "nodes_ms": self.nodes_ms,
                "run_ms": list(self.run_ms), "nodes": [r.to_dict() for r in self.by_time()]}


class ProfileRecorder:
    """Profiled runs of one plan, accumulated into a :class:`Profile`.

    ``run(feeds)`` takes validated feeds (``Engine._validate``) and returns the outputs; runs may
    come from several threads at once. Run start times count from the recorder's creation
    (``start_wall_ns`` is that moment on the wall clock). With ``shapes=False`` a run does not
    record its output shapes (a little cheaper); the FLOP estimates use the first run that did.
    """

    def __init__(self, graph, plan):
        self.graph, self.plan = graph, plan
        self.start_wall_ns = time.time_ns()
        self._start = time.perf_counter()
        self._lock = threading.Lock()
        self._runs = []  # (start_ms, run_ms, per-step seconds, per-step (in, out) shapes or None, tid)

    def run(self, feeds: list, shapes: bool = True) -> list:
        clock = time.perf_counter
        t0 = clock()
        out, secs, shp = execute_profiled(self.plan, feeds, shapes=shapes)
        t1 = clock()
        with self._lock:
            self._runs.append(((t0 - self._start) * 1e3, (t1 - t0) * 1e3, secs, shp, threading.get_native_id()))
        return out

    def profile(self) -> Profile:
        with self._lock:
            runs = list(self._runs)
        plan, graph = self.plan, self.graph
        if not runs:
            return Profile(nodes=[], run_ms=[])
        shapes = next((shp for *_, shp, _ in runs if shp is not None), None)
        times = np.asarray([secs for _, _, secs, _, _ in runs]) * 1e3  # [runs, steps]
        means = times.mean(axis=0) if times.size else np.zeros(len(plan.steps))
        total = float(means.sum()) or 1.0
        meta = plan.meta if len(plan.meta or ()) == len(plan.steps) else [{} for _ in plan.steps]
        records = []
        for idx, (step, m) in enumerate(zip(plan.steps, meta)):
            node = step[4]
            ins, outs = shapes[idx] if shapes is not None else ((), ())
            dense, nonzero = node_flops(node, ins, outs, graph.initializers)
            info = (node.attrs.get("kernel_info") or {}) if node.domain == LOWERED_DOMAIN else {}
            native = bool(m.get("native")) or node.domain == LOWERED_DOMAIN
            records.append(NodeRecord(
                index=idx, name=node.name or (node.outputs[0] if node.outputs else f"#{idx}"),
                op=node.op_type, domain=node.domain, kernel=str(info.get("kernel") or ("native" if native else "numpy")),
                native=native, source_op=info.get("source_op"),
                output_shapes=_shape_lists(outs),
                weight_sparsity=weight_sparsity(node, graph.initializers),
                dense_flops=int(dense), nonzero_flops=int(nonzero),
                times_ms=[float(t) for t in times[:, idx]], mean_ms=float(means[idx]),
                percent=100.0 * float(means[idx]) / total,
                run_output_shapes=[None if shp is None else _shape_lists(shp[idx][1]) for *_, shp, _ in runs]))
        return Profile(nodes=records, run_ms=[r[1] for r in runs], run_start_ms=[r[0] for r in runs],
                       run_tids=[r[4] for r in runs])


def _shape_lists(shapes) -> list:
    return [list(s) if s is not None else None for s in shapes]


def profile_engine(engine, inputs, runs: int = 1) -> Profile:
    if int(runs) < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    feeds = engine._validate(inputs)  # same checks and error messages as run()
    plan_for = getattr(engine, "plan_for", None)
    if plan_for is not None:  # profile the plan run() uses: the one specialised for these shapes
        engine.run(feeds)  # the first run at a new signature builds it
        plan = plan_for(feeds)
    else:
        plan = engine.plan
    recorder = ProfileRecorder(engine.graph, plan)
    for i in range(int(runs)):
        recorder.run(feeds, shapes=(i == 0))
    return recorder.profile()
