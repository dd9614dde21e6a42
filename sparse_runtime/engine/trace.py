"""A :class:`~sparse_runtime.engine.profile.Profile` as Chrome-trace JSON (chrome://tracing, Perfetto).

Used by ``sparse-bench --profile-export trace.json`` and by ``InferenceSession.end_profiling()``
(ort_compat). The layout is ONNX Runtime's profiler output (a JSON array of complete "X" events in
microseconds; one "Session" ``model_run`` event per run, one "Node" ``<node>_kernel_time`` event
per node with ``args.op_name``), so scripts and viewers written for ORT profiles read ours.
Node events are laid out back to back inside their run: the profiled executor measures each node
from the end of the previous one, so this reconstruction is exact up to the clock's cost.
"""
from __future__ import annotations

import json
import os
import threading


def chrome_trace(profile, model: str = "", provider: str = "sparse_runtime") -> list:
    """The events; each run on the thread that ran it (``profile.run_tids``) where recorded."""
    pid, tid = os.getpid(), threading.get_native_id()
    events = []
    steps = sorted(profile.nodes, key=lambda r: r.index)
    starts = profile.run_start_ms or [sum(profile.run_ms[:i]) for i in range(len(profile.run_ms))]
    tids = profile.run_tids or [tid] * len(profile.run_ms)
    for run, (start_ms, run_ms, run_tid) in enumerate(zip(starts, profile.run_ms, tids)):
        events.append({"cat": "Session", "pid": pid, "tid": run_tid, "ph": "X", "name": "model_run",
                       "ts": round(start_ms * 1e3, 3), "dur": round(run_ms * 1e3, 3),
                       "args": {"run": run, "model": model}})
        t = start_ms
        for r in steps:
            dur = r.times_ms[run]
            shapes = r.output_shapes
            if run < len(r.run_output_shapes) and r.run_output_shapes[run] is not None:
                shapes = r.run_output_shapes[run]
            shape = shapes[0] if shapes else None
            events.append({"cat": "Node", "pid": pid, "tid": run_tid, "ph": "X", "name": f"{r.name}_kernel_time",
                           "ts": round(t * 1e3, 3), "dur": round(dur * 1e3, 3),
                           "args": {"op_name": r.op, "domain": r.domain, "shape": shape, "output_type_shape": shapes,
                                    "kernel": r.kernel, "provider": provider,
                                    "weight_sparsity": r.weight_sparsity}})
            t += dur
    return events


def write_chrome_trace(profile, path, model: str = "", provider: str = "sparse_runtime") -> str:
    """Write the events to ``path``; returns the path as a string."""
    with open(path, "w") as f:
        json.dump(chrome_trace(profile, model, provider), f)
    return os.fspath(path)
