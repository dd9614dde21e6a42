"""``Engine.benchmark``: throughput and latency of a compiled engine, and what ran where.

Scenarios (the names DeepSparse users know):
* ``sync``: one caller, one request at a time; latency = one ``run``.
* ``async``: ``streams`` Python threads issue requests to the same engine at once (the plan is
  immutable and every run has its own value slots; numpy and the native kernels release the GIL,
  so the requests really overlap). Throughput counts all of them; latency is per request.

:func:`measure` takes several run functions and alternates between them in short time slices, so
``--compare`` exposes both runtimes to the same noise. Each slice starts with one untimed call:
a runtime whose pool spins after a run (ONNX Runtime's does by default) would otherwise steal the
cores from the first run of the next one; alternating single calls measured our MLP at 2x its
true latency that way.
"""
from __future__ import annotations

import os
import platform
import threading
import time as _time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from .feeds import BenchError, make_inputs, vocab_sizes
from .profile import profile_engine

SCENARIOS = ("sync", "async")
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)
Progress = Optional[Callable[[str, float, float], None]]  # (phase, seconds done, seconds planned)


@dataclass
class BenchResult:
    model: str
    batch_size: int
    threads: Optional[int]
    isa: str
    iterations: int
    seconds: float  # wall time of the timed phase (for async: first start to last finish)
    items_per_second: float  # batch_size * iterations / seconds
    latency_ms: dict  # mean, median, std, min, max, p90, p95, p99 (per batch)
    warmup_iterations: int
    compile_seconds: float
    lowered_layers: int  # layers in engine.report()
    sparse_layers: int  # of those, format != "dense"
    inputs: dict  # name -> {"shape": [...], "dtype": "..."}
    scenario: str = "sync"
    streams: int = 1
    percentiles_ms: dict = field(default_factory=dict)  # "p1" ... "p99.9"
    nodes: int = 0
    native_nodes: int = 0  # nodes whose op runs in native kernels (PackedMatMul/PackedConv, ...)
    native_node_fraction: float = 0.0
    flops_per_run: int = 0  # dense-equivalent estimate, see engine/flops.py
    native_flop_fraction: float = 0.0  # share of flops_per_run done by native nodes
    weight_sparsity: Optional[float] = None  # zeros over all MatMul/Gemm/Conv weights
    # share of the timed wall time spent inside native kernels (sync runs of this engine only);
    # the rest is Python and numpy glue
    native_time_fraction: Optional[float] = None
    machine: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    latencies_ms: list = field(default_factory=list, repr=False)

    def to_dict(self, raw: bool = False) -> dict:
        d = asdict(self)
        if not raw:
            d.pop("latencies_ms")
        return d


# --------------------------------------------------------------------------------- statistics
def latency_stats(lat_ms) -> dict:
    a = np.asarray(lat_ms, dtype=np.float64)
    return {
        "mean": float(a.mean()), "median": float(np.median(a)), "std": float(a.std()),
        "min": float(a.min()), "max": float(a.max()),
        "p90": float(np.percentile(a, 90)), "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
    }


def percentile_table(lat_ms) -> dict:
    a = np.asarray(lat_ms, dtype=np.float64)
    return {f"p{p:g}": float(np.percentile(a, p)) for p in PERCENTILES}


# ------------------------------------------------------------------------------------ machine
def cpu_info() -> dict:
    try:  # the Python face of the native module (may not exist in every checkout)
        from .. import kernels

        return dict(kernels.cpu_info())
    except Exception:
        pass
    try:
        from .. import _native

        return dict(_native.cpu_info())
    except Exception:
        return {}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    from .. import __version__

    info = cpu_info()
    return {"cpu_model": _cpu_model(), "vendor": info.get("vendor"), "logical_cpus": os.cpu_count(),
            "isa": info.get("isa"), "best_isa": info.get("best_isa"),
            "features": sorted(k for k, v in (info.get("features") or {}).items() if v),
            "native_threads": info.get("threads"), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "sparse_runtime": __version__}


# ---------------------------------------------------------------------------------- measuring
def _run_for(fn, seconds: float, lat: list) -> None:
    """Call ``fn`` until ``seconds`` have passed (at least once), appending each call's time."""
    clock = _time.perf_counter
    end = clock() + seconds
    while True:
        t = clock()
        fn()
        now = clock()
        lat.append(now - t)
        if now >= end:
            return


def _run_streams(fn, streams: int, seconds: float, lat: list, progress=None, base=0.0, total=0.0) -> float:
    """``streams`` threads call ``fn`` for ``seconds``; returns the wall time of the slice."""
    clock = _time.perf_counter
    errors: list = []
    start_gate = threading.Barrier(streams + 1)
    ends = [0.0] * streams

    def worker(i):
        mine: list = []
        try:
            start_gate.wait()
            _run_for(fn, seconds, mine)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)
        ends[i] = clock()
        lat.extend(mine)  # list.extend is atomic under the GIL

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(streams)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = clock()
    for t in threads:
        while t.is_alive():
            t.join(0.1)
            if progress:
                progress("timing", base + min(clock() - t0, seconds), total)
    if errors:
        raise errors[0]
    return max(ends) - t0


def _native_seconds() -> float:
    try:
        from .. import _native
        return _native.native_time_ns() * 1e-9
    except (ImportError, AttributeError):  # a build without the counter
        return 0.0


def measure(fns: list, seconds: float, scenario: str = "sync", streams: int = 1,
            progress: Progress = None, phase: str = "timing") -> list:
    """Time every function in ``fns`` for about ``seconds`` each, alternating between them.
    Returns one ``(latencies_s, wall_s, native_s)`` per function: ``native_s`` is the time our
    native kernels ran during that function's turns (sync only; None for async, where streams
    overlap and the sum of their kernel time is not a share of the wall time)."""
    clock = _time.perf_counter
    lats = [[] for _ in fns]
    walls = [0.0] * len(fns)
    total = seconds * len(fns)
    if scenario == "sync":
        natives = [0.0] * len(fns)
        n_slices = max(1, min(20, int(seconds / 0.25)))
        start = clock()
        for _ in range(n_slices):
            for i, fn in enumerate(fns):
                fn()  # settle: the previous runtime's spinning threads back off
                n0, t = _native_seconds(), clock()
                _run_for(fn, seconds / n_slices, lats[i])
                walls[i] += clock() - t
                natives[i] += _native_seconds() - n0
                if progress:
                    progress(phase, clock() - start, total)
        return list(zip(lats, walls, natives))
    # async: alternate slices so a long-lived noise source still hits every runtime
    n_slices = max(1, min(10, int(seconds / 0.5)))
    for s in range(n_slices):
        for i, fn in enumerate(fns):
            done = (s * len(fns) + i) * seconds / n_slices
            walls[i] += _run_streams(fn, streams, seconds / n_slices, lats[i], progress if phase == "timing" else None,
                                     done, total)
    return [(lat, wall, None) for lat, wall in zip(lats, walls)]


# ------------------------------------------------------------------------------------- driver
def prepare_feeds(engine, inputs=None, batch_size: Optional[int] = None, input_shapes: Optional[dict] = None,
                  seed: int = 0, notes: Optional[list] = None) -> dict:
    """The inputs a benchmark runs on: ``inputs`` as given, or generated (see feeds.py)."""
    if inputs is not None:
        if isinstance(inputs, dict):
            return dict(inputs)
        return dict(zip(engine.input_names, inputs))
    if batch_size is not None:
        if batch_size < 1:
            raise BenchError(f"batch size must be >= 1, got {batch_size}")
        fixed = [(n, s[0]) for n, s in zip(engine.input_names, engine.input_shapes)
                 if s and isinstance(s[0], int) and s[0] != batch_size and n not in (input_shapes or {})]
        if fixed:
            raise BenchError(f"input '{fixed[0][0]}' has a fixed batch dimension of {fixed[0][1]}; "
                             f"cannot benchmark batch size {batch_size}")
    return make_inputs(engine.input_names, engine.input_shapes, engine.input_dtypes, batch_size,
                       vocab=vocab_sizes(engine.graph), seed=seed, notes=notes, overrides=input_shapes)


def batch_of(feeds: dict) -> int:
    first = next(iter(feeds.values()), None)
    return int(first.shape[0]) if first is not None and first.ndim else 1


def native_share(profile) -> dict:
    """Node and FLOP shares of native kernels, from one profiled run's records."""
    nodes = len(profile.nodes)
    native = sum(1 for r in profile.nodes if r.native)
    flops = sum(r.dense_flops for r in profile.nodes)
    native_flops = sum(r.dense_flops for r in profile.nodes if r.native)
    return {"nodes": nodes, "native_nodes": native, "native_node_fraction": native / nodes if nodes else 0.0,
            "flops_per_run": int(flops), "native_flop_fraction": native_flops / flops if flops else 0.0}


def warm_up(fns: list, seconds: float, progress: Progress = None) -> int:
    """Run every function in turn for ``seconds`` in all (at least once each); returns rounds."""
    lat_s = measure(fns, seconds / max(1, len(fns)), "sync", 1, progress, phase="warm-up")
    return len(lat_s[0][0])


def make_result(engine, feeds: dict, lat_s: list, wall: float, *, model: str, scenario: str, streams: int,
                warmup_iterations: int, share: Optional[dict] = None, notes: Optional[list] = None,
                threads: Optional[int] = None, isa: Optional[str] = None,
                native_s: Optional[float] = None) -> BenchResult:
    """A BenchResult from measured latencies. ``engine`` may be None for another runtime (then
    the layer and sparsity figures are empty and ``threads``/``isa`` describe that runtime).
    ``native_s``: native kernel time over the same wall time (see ``measure``)."""
    from .flops import model_weight_sparsity

    batch = batch_of(feeds)
    lat_ms = np.asarray(lat_s) * 1e3
    rep = engine.report() if engine is not None else []
    info = cpu_info()
    if engine is not None:
        threads = threads or engine.threads or info.get("threads") or os.cpu_count()
    return BenchResult(
        model=model, batch_size=batch, threads=threads,
        isa=str(isa or info.get("isa", "unknown")), iterations=len(lat_ms), seconds=float(wall),
        items_per_second=batch * len(lat_ms) / wall if wall > 0 else float("inf"),
        latency_ms=latency_stats(lat_ms), warmup_iterations=warmup_iterations,
        compile_seconds=float(getattr(engine, "compile_seconds", 0.0) or 0.0),
        lowered_layers=len(rep), sparse_layers=sum(1 for r in rep if r.get("format") not in (None, "dense")),
        inputs={k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds.items()},
        scenario=scenario, streams=streams, percentiles_ms=percentile_table(lat_ms),
        weight_sparsity=model_weight_sparsity(engine.graph) if engine is not None else None,
        machine=machine_info(), notes=list(notes or []), latencies_ms=[float(x) for x in lat_ms],
        native_time_fraction=(min(1.0, native_s / wall) if engine is not None and native_s is not None and wall > 0
                              else None),
        **(share or {}))


def default_streams() -> int:
    return max(2, (os.cpu_count() or 2) // 2)


def check_scenario(scenario: str, streams: Optional[int]) -> int:
    if scenario not in SCENARIOS:
        raise BenchError(f"unknown scenario {scenario!r}; expected one of {SCENARIOS}")
    if streams is not None and streams < 1:
        raise BenchError(f"streams must be >= 1, got {streams}")
    if scenario == "sync":
        return 1
    return int(streams or default_streams())


def benchmark_engine(engine, inputs=None, time: float = 10.0, warmup: float = 2.0,
                     batch_size: Optional[int] = None, scenario: str = "sync", streams: Optional[int] = None,
                     input_shapes: Optional[dict] = None, seed: int = 0, progress: Progress = None,
                     model: Optional[str] = None) -> BenchResult:
    """Warm up for ``warmup`` s, then time ``run`` for ``time`` s (at least one call of each)."""
    if time < 0 or warmup < 0:
        raise BenchError(f"time and warmup must be >= 0, got time={time:g}, warmup={warmup:g}")
    streams = check_scenario(scenario, streams)
    notes: list = []
    feeds = prepare_feeds(engine, inputs, batch_size, input_shapes, seed, notes)
    share = native_share(profile_engine(engine, feeds, runs=1))  # also the first warm-up run
    fn = lambda: engine.run(feeds)  # noqa: E731
    warm = warm_up([fn], warmup, progress)
    (lat, wall, native), = measure([fn], time, scenario, streams, progress)
    return make_result(engine, feeds, lat, wall, model=model or getattr(engine, "_source", "model"),
                       scenario=scenario, streams=streams, warmup_iterations=warm + 1, share=share, notes=notes,
                       native_s=native)
