"""sparse-bench: measure a model's throughput and latency on this CPU.

    sparse-bench MODEL.onnx [-b BATCH] [-t SECONDS] [-w WARMUP] [--threads N] [-q] [-x out.json]
    sparse-bench            # built-in demo: BERT-base encoder at 90 % sparsity vs. its dense twin

The measuring logic is :func:`benchmark` (returns a :class:`BenchResult`); :func:`main` only parses
arguments, prints and exits. Inputs are random but valid: floats ~ N(0, 1); int inputs named like
masks get ones, token-type/segment ids zeros, position ids 0..n-1, other ids small random values
below the vocabulary size found in the model's Gather tables (at most 1000). Symbolic dims: the
first (batch) dim takes ``-b`` or 1, sequence-like dims 128, other symbolic dims 1; each such
choice is reported as a note.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np

DEFAULT_SEQ = 128
_SEQ_RE = re.compile(r"seq|sequence|len|length|token|position|time|step", re.I)
_MAX_RANDOM_ID = 1000


class BenchError(Exception):
    """A benchmark could not run; the message is one line meant for the user."""


@dataclass
class BenchResult:
    model: str
    batch_size: int
    threads: Optional[int]
    isa: str
    iterations: int
    seconds: float  # measured wall time of the timed iterations
    items_per_second: float  # batch_size * iterations / seconds
    latency_ms: dict  # mean, median, std, min, max, p90, p95, p99
    warmup_iterations: int
    compile_seconds: float
    lowered_layers: int  # layers in engine.report()
    sparse_layers: int  # of those, format != "dense"
    inputs: dict  # name -> {"shape": [...], "dtype": "..."}
    notes: list = field(default_factory=list)
    latencies_ms: list = field(default_factory=list, repr=False)

    def to_dict(self, raw: bool = False) -> dict:
        d = asdict(self)
        if not raw:
            d.pop("latencies_ms")
        return d


# ---------------------------------------------------------------------------------------- inputs
def _vocab_sizes(model) -> dict:
    """input name -> rows of the constant table a Gather indexes with it (embedding vocab)."""
    try:
        import onnx

        proto = model if isinstance(model, onnx.ModelProto) else onnx.load(os.fspath(model), load_external_data=False)
    except Exception:
        return {}
    tables = {t.name: tuple(t.dims) for t in proto.graph.initializer}
    out: dict = {}
    for n in proto.graph.node:
        if n.op_type == "Gather" and len(n.input) > 1 and n.input[0] in tables and tables[n.input[0]]:
            axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
            rows = tables[n.input[0]][axis]
            out[n.input[1]] = min(out.get(n.input[1], rows), rows)
    return out


def _resolve_shape(name: str, shape, batch_size: Optional[int], notes: list) -> tuple:
    if shape is None:
        raise BenchError(f"input '{name}' has unknown rank; cannot generate data for it")
    dims = []
    for ax, d in enumerate(shape):
        if isinstance(d, (int, np.integer)) and d >= 0:
            dims.append(int(d))
            continue
        label = f"'{d}'" if isinstance(d, str) and d else "?"
        if ax == 0:
            v = batch_size or 1
            notes.append(f"input '{name}' dim 0 ({label}) is symbolic: using batch {v}"
                         + ("" if batch_size else " (set it with -b)"))
        elif isinstance(d, str) and _SEQ_RE.search(d) or len(shape) == 2:
            v = DEFAULT_SEQ
            notes.append(f"input '{name}' dim {ax} ({label}) is symbolic: using sequence length {v}")
        else:
            v = 1
            notes.append(f"input '{name}' dim {ax} ({label}) is symbolic: using 1")
        dims.append(v)
    return tuple(dims)


def make_inputs(names, shapes, dtypes, batch_size: Optional[int] = None, vocab: Optional[dict] = None,
                seed: int = 0, notes: Optional[list] = None) -> dict:
    """Random, valid inputs for a model: name -> array (see the module docstring for the rules)."""
    rng = np.random.default_rng(seed)
    notes = notes if notes is not None else []
    vocab = vocab or {}
    feeds = {}
    for name, shape, dtype in zip(names, shapes, dtypes):
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        shp = _resolve_shape(name, shape, batch_size, notes)
        low = name.lower()
        if dt.kind == "f":
            a = rng.standard_normal(shp).astype(dt)
        elif dt.kind == "b":
            a = np.ones(shp, dt)
        elif dt.kind in "iu":
            if "mask" in low:
                a = np.ones(shp, dt)
            elif "token_type" in low or "segment" in low:
                a = np.zeros(shp, dt)
            elif "position" in low and shp:
                a = np.broadcast_to(np.arange(shp[-1], dtype=dt), shp).copy()
            elif "id" in low or name in vocab:
                hi = max(1, min(vocab.get(name, _MAX_RANDOM_ID), _MAX_RANDOM_ID))
                a = rng.integers(0, hi, shp).astype(dt)
            else:
                a = np.zeros(shp, dt)
                notes.append(f"input '{name}' ({dt}) has no recognised role: feeding zeros")
        else:
            raise BenchError(f"input '{name}' has dtype {dt}, which sparse-bench cannot generate")
        feeds[name] = np.ascontiguousarray(a)
    return feeds


# -------------------------------------------------------------------------------------- measuring
def _cpu_info() -> dict:
    try:
        import sparse_runtime

        return dict(sparse_runtime.cpu_info())
    except Exception:
        pass
    try:  # the Python wrapper (sparse_runtime.kernels) may be absent while the native module is built
        from sparse_runtime import _native

        return dict(_native.cpu_info())
    except Exception:
        return {}


def _percentiles(lat_ms: np.ndarray) -> dict:
    return {
        "mean": float(lat_ms.mean()), "median": float(np.median(lat_ms)), "std": float(lat_ms.std()),
        "min": float(lat_ms.min()), "max": float(lat_ms.max()),
        "p90": float(np.percentile(lat_ms, 90)), "p95": float(np.percentile(lat_ms, 95)),
        "p99": float(np.percentile(lat_ms, 99)),
    }


def benchmark(model, batch_size: Optional[int] = None, time_s: float = 10.0, warmup_s: float = 2.0,
              threads: Optional[int] = None, seed: int = 0,
              log: Optional[Callable[[str], None]] = None) -> BenchResult:
    """Compile ``model`` (path or ModelProto), warm up for ``warmup_s`` seconds, then time single
    ``run`` calls until ``time_s`` seconds are spent (at least one of each). Raises BenchError
    (missing file) or whatever the Engine raises for a bad model."""
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.exists(path):
            raise BenchError(f"model file not found: {path}")
        if os.path.isdir(path):
            raise BenchError(f"expected an .onnx file, got a directory: {path}")
        label = path
    else:
        label = getattr(getattr(model, "graph", None), "name", None) or type(model).__name__
    if batch_size is not None and batch_size < 1:
        raise BenchError(f"batch size must be >= 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise BenchError(f"threads must be >= 1, got {threads}")
    log = log or (lambda msg: None)

    from sparse_runtime import Engine

    log(f"compiling {label} ...")
    t0 = time.perf_counter()
    eng = Engine(model, batch_size=batch_size, threads=threads)
    compile_s = getattr(eng, "compile_seconds", None) or (time.perf_counter() - t0)

    notes: list = []
    feeds = make_inputs(eng.input_names, eng.input_shapes, eng.input_dtypes, batch_size,
                        vocab=_vocab_sizes(model), seed=seed, notes=notes)
    first = next(iter(feeds.values()), None)
    batch = int(batch_size or (first.shape[0] if first is not None and first.ndim else 1))

    run = eng.run
    log(f"warming up for {warmup_s:g} s ...")
    warm, t_end = 0, time.perf_counter() + max(0.0, warmup_s)
    while True:
        run(feeds)
        warm += 1
        if time.perf_counter() >= t_end:
            break
    log(f"timing for {time_s:g} s ...")
    lat = []
    start = time.perf_counter()
    t_end = start + max(0.0, time_s)
    while True:
        t = time.perf_counter()
        run(feeds)
        now = time.perf_counter()
        lat.append(now - t)
        if now >= t_end:
            break
    total = sum(lat)
    lat_ms = np.asarray(lat) * 1e3

    rep = eng.report() if hasattr(eng, "report") else []
    info = _cpu_info()
    return BenchResult(
        model=label, batch_size=batch,
        threads=threads or info.get("threads") or getattr(eng, "threads", None) or os.cpu_count(),
        isa=str(info.get("isa", "unknown")), iterations=len(lat), seconds=total,
        items_per_second=batch * len(lat) / total if total > 0 else float("inf"),
        latency_ms=_percentiles(lat_ms), warmup_iterations=warm, compile_seconds=float(compile_s),
        lowered_layers=len(rep), sparse_layers=sum(1 for r in rep if r.get("format") not in (None, "dense")),
        inputs={k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in feeds.items()},
        notes=notes, latencies_ms=[float(x) for x in lat_ms],
    )


# ------------------------------------------------------------------------------------- printing
def format_result(r: BenchResult) -> str:
    lat = r.latency_ms
    shapes = ", ".join(f"{k}{tuple(v['shape'])} {v['dtype']}" for k, v in r.inputs.items())
    lines = [
        f"Model:          {r.model}",
        f"Inputs:         {shapes}",
        f"Batch size:     {r.batch_size}",
        f"Threads:        {r.threads}",
        f"ISA:            {r.isa}",
        f"Sparse layers:  {r.sparse_layers} of {r.lowered_layers} lowered layers"
        + ("  (none lowered: no packed kernel ran)" if r.lowered_layers == 0 else ""),
        f"Compile:        {r.compile_seconds:.2f} s",
        f"Iterations:     {r.iterations} in {r.seconds:.2f} s (after {r.warmup_iterations} warm-up)",
        f"Throughput:     {r.items_per_second:.2f} items/s",
        f"Latency (ms):   mean {lat['mean']:.3f}  median {lat['median']:.3f}  std {lat['std']:.3f}",
        f"                p90 {lat['p90']:.3f}  p95 {lat['p95']:.3f}  p99 {lat['p99']:.3f}",
    ]
    lines += [f"Note:           {n}" for n in r.notes]
    return "\n".join(lines)


def run_demo(args, say: Callable[[str], None]) -> dict:
    """Benchmark the built-in BERT-base demo at 90 % sparsity against its dense twin."""
    import onnx

    from sparse_runtime.models import demo_model

    layers = args.demo_layers
    say(f"No model given: benchmarking the built-in demo, a BERT-base-shaped encoder ({layers} layers, "
        f"hidden 768, seq 128, batch {args.batch_size or 1}), 90 % unstructured sparse vs. its dense twin "
        "(same weights before pruning).")
    results = {}
    with tempfile.TemporaryDirectory(prefix="sparse-bench-") as tmp:
        for tag, s in (("sparse", 0.9), ("dense", 0.0)):
            path = os.path.join(tmp, f"demo_bert_{tag}.onnx")
            say(f"generating {tag} model ({s:.0%} sparsity) -> {path}")
            onnx.save_model(demo_model(sparsity=s, layers=layers, batch=args.batch_size or 1), path)
            r = benchmark(path, batch_size=args.batch_size, time_s=args.time, warmup_s=args.warmup,
                          threads=args.threads, log=say)
            r.model = f"demo BERT-base {layers}-layer, {s:.0%} sparse"
            results[tag] = r
            say("")
            say(format_result(r))
            say("")
    speedup = results["sparse"].items_per_second / results["dense"].items_per_second
    say(f"Speed-up of 90 % sparse over dense: {speedup:.2f}x (throughput ratio)")
    return {"demo": True, "layers": layers, "sparse": results["sparse"].to_dict(),
            "dense": results["dense"].to_dict(), "speedup": speedup}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sparse-bench",
        description="Benchmark an ONNX model with sparse_runtime. With no MODEL, benchmark the built-in "
                    "BERT-base demo at 90 %% sparsity against its dense twin.")
    p.add_argument("model", nargs="?", help="path to an .onnx model")
    p.add_argument("-b", "--batch-size", type=int, default=None,
                   help="batch size (fixes the first input dim; symbolic batch dims default to 1)")
    p.add_argument("-t", "--time", type=float, default=10.0, help="seconds of timed runs (default 10)")
    p.add_argument("-w", "--warmup", type=float, default=2.0, help="seconds of warm-up runs (default 2)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-x", "--export", metavar="JSON", default=None, help="write the results as JSON")
    p.add_argument("--demo-layers", type=int, default=12, help="encoder layers of the demo model (default 12)")
    return p


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    def fail(msg: str, code: int = 1) -> int:
        print(f"sparse-bench: error: {' '.join(str(msg).split())}", file=sys.stderr)
        return code

    for flag, v, lo in (("-t", args.time, 0), ("-w", args.warmup, 0)):
        if v < lo:
            return fail(f"{flag} must be >= {lo}, got {v:g}", 2)
    if args.demo_layers < 1:
        return fail(f"--demo-layers must be >= 1, got {args.demo_layers}", 2)
    if args.export:
        out_dir = os.path.dirname(os.path.abspath(args.export))
        if not os.path.isdir(out_dir):
            return fail(f"cannot write {args.export}: directory {out_dir} does not exist", 2)
    try:
        if args.model is None:
            payload: Any = run_demo(args, say)
        else:
            r = benchmark(args.model, batch_size=args.batch_size, time_s=args.time, warmup_s=args.warmup,
                          threads=args.threads)
            say(format_result(r))
            payload = r.to_dict()
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except BenchError as e:
        return fail(e)
    except Exception as e:  # noqa: BLE001 - a failing model must end in one line, not a traceback
        where = f"{args.model}: " if args.model and args.model not in str(e) else ""
        return fail(f"{where}{type(e).__name__}: {e}")
    if args.export:
        try:
            with open(args.export, "w") as f:
                json.dump(payload, f, indent=2)
        except OSError as e:
            return fail(f"cannot write {args.export}: {e}")
        say(f"results written to {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
