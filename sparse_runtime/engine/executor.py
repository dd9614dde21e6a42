"""Run a Plan: a tight loop over precompiled kernels and integer slots.

Per node the loop does one list build for the inputs, one call, and a few slot stores; the
try/except sits outside the loop (free in CPython 3.11 until something raises), and the failing
node is still known from the loop variable. The profiled and debug loops are built the same way
and turn errors into OpErrors naming the node the same way (``_reraise``).
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import OpError, SparseRuntimeError
from .planner import Plan


def execute(plan: Plan, feeds: list) -> list:
    vals = plan.template.copy()
    for slot, arr in zip(plan.input_slots, feeds):
        vals[slot] = arr
    step = None
    try:
        for step in plan.steps:
            kernel, ins, outs, frees, _ = step
            res = kernel([vals[i] for i in ins])
            for o, r in zip(outs, res):
                vals[o] = r
            for f in frees:
                vals[f] = None
    except Exception as e:
        _reraise(e, step[4] if step is not None else None)
    return _outputs(plan, vals)


def execute_profiled(plan: Plan, feeds: list, shapes: bool = False):
    """Like execute, timing every step (a separate function so ``execute`` stays lean).

    Returns ``(outputs, seconds, shapes)``: ``seconds[i]`` runs from the end of step i-1 to the
    end of step i, so it includes the loop's own per-node bookkeeping and the steps add up to the
    whole run. With ``shapes=True``, ``shapes[i]`` = (input shapes, output shapes) of step i (for
    FLOP estimates; off by default because it costs a little per node), else None.
    """
    clock = time.perf_counter
    vals = plan.template.copy()
    for slot, arr in zip(plan.input_slots, feeds):
        vals[slot] = arr
    n = len(plan.steps)
    secs = [0.0] * n
    shp = [None] * n if shapes else None
    node = None
    t_prev = clock()
    try:
        for idx, (kernel, ins, outs, frees, node) in enumerate(plan.steps):
            args = [vals[i] for i in ins]
            res = kernel(args)
            for o, r in zip(outs, res):
                vals[o] = r
            for f in frees:
                vals[f] = None
            if shp is not None:
                shp[idx] = (tuple(getattr(a, "shape", None) for a in args),
                            tuple(getattr(r, "shape", None) for r in res))
            now = clock()
            secs[idx] = now - t_prev
            t_prev = now
    except Exception as e:
        _reraise(e, node)
    return _outputs(plan, vals), secs, shp


def execute_debug(plan: Plan, feeds: list, value_info: dict) -> list:
    """Like execute, but checks every kernel result against the contract and inferred info."""
    vals = plan.template.copy()
    for slot, arr in zip(plan.input_slots, feeds):
        vals[slot] = arr
    node = None
    try:
        for kernel, ins, outs, frees, node in plan.steps:
            args = [vals[i] for i in ins]
            res = kernel(args)
            if not isinstance(res, (list, tuple)):
                raise OpError(node, f"kernel returned {type(res).__name__}, expected a list of arrays")
            needed = sum(1 for o in node.outputs if o)
            if len(res) < len(node.outputs) and needed > len(res):
                raise OpError(node, f"kernel returned {len(res)} outputs, the node has {len(node.outputs)}")
            for name, r in zip(node.outputs, res):
                if not isinstance(r, np.ndarray):
                    raise OpError(node, f"output '{name}': kernel returned {type(r).__name__}, expected np.ndarray")
                vi = value_info.get(name)
                if vi is not None and vi.dtype is not None and vi.dtype != r.dtype:
                    raise OpError(node, f"output '{name}': dtype {r.dtype}, shape inference says {vi.dtype}")
                if vi is not None and vi.shape is not None:
                    if len(vi.shape) != r.ndim or any(isinstance(d, int) and d != s
                                                      for d, s in zip(vi.shape, r.shape)):
                        raise OpError(node, f"output '{name}': shape {r.shape}, shape inference says {vi.shape}")
            for a, i in zip(args, ins):  # kernels must not replace inputs in place: cheap identity check
                if i and vals[i] is not a:
                    raise OpError(node, "kernel modified its input list")
            for o, r in zip(outs, res):
                vals[o] = r
            for f in frees:
                vals[f] = None
    except Exception as e:
        _reraise(e, node)
    return _outputs(plan, vals)


def _outputs(plan, vals):
    out = []
    for slot, is_const, name in zip(plan.output_slots, plan.output_is_const, plan.output_names):
        v = vals[slot]
        if v is None:
            raise SparseRuntimeError(f"graph output '{name}' was not produced (a kernel returned fewer "
                                     "outputs than its node declares)")
        if is_const or type(v) is not np.ndarray:
            v = np.array(v)  # a copy: callers must not be able to modify the engine's constants
        out.append(v)
    return out


def _reraise(e, node):
    """Raise what escaped a run loop at step ``node``: ``e`` itself when no step ran or it is an
    OpError already naming that node, else an OpError naming the node (chained to ``e``)."""
    if node is None or (isinstance(e, OpError) and getattr(e, "node", None) is node):
        raise e
    raise OpError(node, f"failed at run time: {type(e).__name__}: {e}") from e
