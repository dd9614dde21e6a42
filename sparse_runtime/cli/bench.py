"""sparse-bench: measure a model's throughput and latency on this CPU, and say why.

    sparse-bench MODEL.onnx [-b BATCH] [--input-shapes "ids:1,128;mask:1,128"] [-t SECONDS] [-w SECONDS]
                 [--threads N] [--scenario sync|async] [--streams N] [--compare onnxruntime]
                 [--profile] [--profile-export trace.json] [--impose-sparsity 0.9] [-q] [-x out.json]
    sparse-bench            # built-in demo: BERT-base encoder at 90 % sparsity vs. its dense twin

Measuring lives in :mod:`sparse_runtime.engine.benchmark` (``Engine.benchmark``); this module
parses arguments, wires the pieces together, prints and exits. Exit codes: 0 ok, 1 the model or
run failed (missing file, compile error, onnxruntime missing), 2 bad arguments (numbers, shapes
string, unknown input name), 3 ``--compare`` outputs disagree, 130 interrupted. Every error is one
line on stderr. stdout carries only results; progress goes to stderr, and only to a terminal.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..engine.benchmark import (BenchResult, check_scenario, make_result, measure, native_share,
                                prepare_feeds, warm_up)
from ..engine.feeds import BenchError, InputShapesError, make_inputs, parse_input_shapes
from .progress import Progress
from .report import format_comparison, format_profile, format_result

__all__ = ["BenchError", "BenchResult", "benchmark", "build_parser", "format_result", "main", "make_inputs"]

EXIT_FAILED, EXIT_USAGE, EXIT_DISAGREE = 1, 2, 3
PROFILE_SECONDS = 2.0  # auto --profile-runs: about this long, 3..50 runs


# ------------------------------------------------------------------------------- library entry
def _check_path(path: str) -> None:
    if not os.path.exists(path):
        raise BenchError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise BenchError(f"expected an .onnx file, got a directory: {path}")


def _model_label(model) -> str:
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    return getattr(getattr(model, "graph", None), "name", None) or type(model).__name__


def benchmark(model, batch_size: Optional[int] = None, time_s: float = 10.0, warmup_s: float = 2.0,
              threads: Optional[int] = None, seed: int = 0, log: Optional[Callable[[str], None]] = None,
              scenario: str = "sync", streams: Optional[int] = None,
              input_shapes: Optional[dict] = None) -> BenchResult:
    """Compile ``model`` (path or ModelProto) and ``Engine.benchmark`` it. Raises BenchError for
    a missing file or bad arguments, whatever the Engine raises for a bad model."""
    if isinstance(model, (str, os.PathLike)):
        _check_path(os.fspath(model))
    if threads is not None and threads < 1:
        raise BenchError(f"threads must be >= 1, got {threads}")
    from sparse_runtime import Engine

    (log or (lambda m: None))(f"compiling {_model_label(model)} ...")
    eng = Engine(model, batch_size=batch_size, threads=threads)
    return eng.benchmark(time=time_s, warmup=warmup_s, batch_size=batch_size, scenario=scenario,
                         streams=streams, input_shapes=input_shapes, seed=seed, model=_model_label(model))


# ------------------------------------------------------------------------------------ the run
@dataclass
class Contender:
    """One thing timed turn by turn: our engine (``engine`` set) or another runtime."""
    label: str
    run: Callable[[], Any]
    engine: Any = None
    threads: Optional[int] = None
    isa: Optional[str] = None


def _compile(model, args, prog: Progress, what: str):
    from sparse_runtime import Engine

    prog.message(f"compiling {what} ...")
    return Engine(model, batch_size=args.batch_size, threads=args.threads)


def _measure_all(contenders: list, feeds: dict, args, prog: Progress, notes: list, shares: dict) -> list:
    fns = [c.run for c in contenders]
    warm = warm_up(fns, args.warmup * len(fns), prog)
    measured = measure(fns, args.time, args.scenario, args.streams, prog)
    prog.clear()
    out = []
    for c, (lat, wall, native) in zip(contenders, measured):
        out.append(make_result(c.engine, feeds, lat, wall, model=c.label, scenario=args.scenario,
                               streams=args.streams, warmup_iterations=warm, share=shares.get(c.label),
                               notes=notes if c.engine is not None else [], threads=c.threads, isa=c.isa,
                               native_s=native))
    return out


def _add_onnxruntime(model_for_ort, eng, feeds: dict, args, prog: Progress) -> tuple:
    """(Contender, agreement dict) for --compare onnxruntime."""
    from .compare_ort import check_agreement, ort_runner, ort_session

    threads = args.threads or eng.threads or _native_threads()
    prog.message("loading the model in onnxruntime ...")
    sess, label = ort_session(model_for_ort, threads)
    run = ort_runner(sess, feeds, eng.output_names)
    agreement = check_agreement(eng.run(feeds), run(), eng.output_names, args.atol, args.rtol)
    return Contender(label, run, threads=threads, isa="onnxruntime CPUExecutionProvider"), agreement


def _native_threads() -> Optional[int]:
    from ..engine.benchmark import cpu_info

    return cpu_info().get("threads")


def _profile(eng, feeds: dict, args, bench_mean_ms: float, prog: Progress, say, label: str) -> dict:
    runs = args.profile_runs or int(min(50, max(3, math.ceil(PROFILE_SECONDS / max(bench_mean_ms / 1e3, 1e-6)))))
    prog.message(f"profiling {runs} run(s) ...")
    prof = eng.profile(feeds, runs=runs)
    prog.clear()
    say("")
    say(format_profile(prof, top=args.profile_top, bench_mean_ms=bench_mean_ms))
    if args.profile_export:
        from ..engine.trace import write_chrome_trace

        write_chrome_trace(prof, args.profile_export, label)
        say(f"Chrome trace written to {args.profile_export} (open in chrome://tracing or ui.perfetto.dev)")
    d = prof.to_dict()
    d["bench_mean_ms"] = bench_mean_ms
    return d


def run_model(args, say, prog: Progress) -> tuple:
    """Benchmark one model file; returns (JSON payload, exit code)."""
    _check_path(args.model)
    model: Any = args.model
    pruned = None
    if args.impose_sparsity is not None:
        import onnx

        from ..models.prune_model import impose_sparsity

        prog.message(f"pruning {args.model} to {args.impose_sparsity:.0%} ...")
        try:
            proto = onnx.load(args.model)
        except Exception as e:  # noqa: BLE001
            raise BenchError(f"{args.model}: cannot load: {type(e).__name__}: {e}") from None
        model, pruned = impose_sparsity(proto, args.impose_sparsity, args.impose_pattern, args.impose_all)
    eng = _compile(model, args, prog, args.model)
    notes: list = [pruned.describe()] if pruned else []
    feeds = prepare_feeds(eng, None, args.batch_size, args.input_shapes, notes=notes)
    shares = {args.model: native_share(eng.profile(feeds, runs=1))}
    contenders = [Contender(args.model, lambda: eng.run(feeds), eng)]
    agreement = None
    if args.compare:
        c, agreement = _add_onnxruntime(model, eng, feeds, args, prog)
        contenders.append(c)
    results = _measure_all(contenders, feeds, args, prog, notes, shares)
    ours = results[0]
    say(format_result(ours))
    payload = ours.to_dict()
    if pruned:
        payload["impose_sparsity"] = {"sparsity": pruned.sparsity, "pattern": pruned.pattern,
                                      "pruned": [n for n, _, _ in pruned.pruned],
                                      "skipped": [{"name": n, "why": w} for n, w in pruned.skipped]}
    code = 0
    if agreement is not None:
        say("")
        say(format_comparison([("sparse_runtime", ours)] + [(r.model, r) for r in results[1:]], agreement,
                              "onnxruntime"))
        payload["compare"] = {"runtime": results[1].model, "result": results[1].to_dict(),
                              "speedup": ours.items_per_second / results[1].items_per_second,
                              "agreement": agreement}
        code = 0 if agreement["agree"] else EXIT_DISAGREE
    if args.profile:
        payload["profile"] = _profile(eng, feeds, args, ours.latency_ms["mean"], prog, say, args.model)
    return payload, code


def run_demo(args, say, prog: Progress) -> tuple:
    """The built-in BERT-base demo at 90 % sparsity against its dense twin, timed turn by turn."""
    from ..models import demo_model

    layers, batch = args.demo_layers, args.batch_size or 1
    say(f"No model given: benchmarking the built-in demo, a BERT-base-shaped encoder ({layers} layers, "
        f"hidden 768, 12 heads, FFN 3072, seq 128, batch {batch}) generated in code, 90 % unstructured "
        "sparse vs. its dense twin (same weights before pruning), alternating 0.25 s turns.")
    engines = {}
    for tag, s in (("sparse", 0.9), ("dense", 0.0)):
        prog.message(f"generating the {tag} demo model ...")
        proto = demo_model(sparsity=s, layers=layers, batch=batch)
        engines[tag] = (proto, _compile(proto, args, prog, f"the {tag} demo model"))
    sparse_eng, dense_eng = engines["sparse"][1], engines["dense"][1]
    notes: list = []
    feeds = prepare_feeds(sparse_eng, None, args.batch_size, args.input_shapes, notes=notes)
    label = {"sparse": f"demo BERT-base {layers}-layer, 90% sparse", "dense": f"demo BERT-base {layers}-layer, dense"}
    shares = {label[t]: native_share(e.profile(feeds, runs=1)) for t, (_, e) in engines.items()}
    contenders = [Contender(label["sparse"], lambda: sparse_eng.run(feeds), sparse_eng),
                  Contender(label["dense"], lambda: dense_eng.run(feeds), dense_eng)]
    agreement = None
    if args.compare:
        c, agreement = _add_onnxruntime(engines["sparse"][0], sparse_eng, feeds, args, prog)
        contenders.append(c)
    results = _measure_all(contenders, feeds, args, prog, notes, shares)
    for r in results[:2]:
        say("")
        say(format_result(r))
    speedup = results[0].items_per_second / results[1].items_per_second
    say("")
    say(f"Speed-up of 90 % sparse over dense: {speedup:.2f}x (throughput ratio)")
    payload = {"demo": True, "layers": layers, "sparse": results[0].to_dict(), "dense": results[1].to_dict(),
               "speedup": speedup}
    code = 0
    if agreement is not None:
        say("")
        say(format_comparison([("sparse_runtime", results[0]), (results[2].model, results[2])], agreement,
                              "onnxruntime"))
        payload["compare"] = {"runtime": results[2].model, "result": results[2].to_dict(),
                              "speedup": results[0].items_per_second / results[2].items_per_second,
                              "agreement": agreement}
        code = 0 if agreement["agree"] else EXIT_DISAGREE
    if args.profile:
        payload["profile"] = _profile(sparse_eng, feeds, args, results[0].latency_ms["mean"], prog, say,
                                      label["sparse"])
    return payload, code


# --------------------------------------------------------------------------------- arguments
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sparse-bench",
        description="Benchmark an ONNX model with sparse_runtime. With no MODEL, benchmark the built-in "
                    "BERT-base demo at 90 %% sparsity against its dense twin.")
    p.add_argument("model", nargs="?", help="path to an .onnx model")
    p.add_argument("-b", "--batch-size", type=int, default=None,
                   help="batch size (fixes the first input dim; symbolic batch dims default to 1)")
    p.add_argument("--input-shapes", default=None, metavar="SHAPES",
                   help='shapes of named inputs, e.g. "input_ids:1,128;attention_mask:1,128" '
                        "(fixes symbolic dims; must match the model's static ones)")
    p.add_argument("-t", "--time", type=float, default=10.0, help="seconds of timed runs (default 10)")
    p.add_argument("-w", "--warmup", type=float, default=2.0, help="seconds of warm-up runs (default 2)")
    p.add_argument("--threads", type=int, default=None, help="native worker threads (default: all cores)")
    p.add_argument("--scenario", choices=("sync", "async"), default="sync",
                   help="sync: one request at a time; async: --streams concurrent requests on one engine")
    p.add_argument("--streams", type=int, default=None,
                   help="concurrent requests in the async scenario (default: max(2, cores / 2))")
    p.add_argument("--compare", choices=("onnxruntime",), default=None,
                   help="also run ONNX Runtime on the same inputs, turn by turn, and check outputs agree")
    p.add_argument("--atol", type=float, default=1e-3, help="--compare: absolute tolerance (default 1e-3)")
    p.add_argument("--rtol", type=float, default=1e-3, help="--compare: relative tolerance (default 1e-3)")
    p.add_argument("--profile", action="store_true", help="print a per-layer time table, slowest first")
    p.add_argument("--profile-export", metavar="TRACE_JSON", default=None,
                   help="write the profile as a Chrome trace (implies --profile)")
    p.add_argument("--profile-runs", type=int, default=None,
                   help=f"profiled runs to average (default: about {PROFILE_SECONDS:g} s worth, 3..50)")
    p.add_argument("--profile-top", type=int, default=30, help="rows of the profile table (default 30)")
    p.add_argument("--impose-sparsity", type=float, default=None, metavar="S",
                   help="what-if: prune every prunable layer to sparsity S (0..1) by magnitude, in memory")
    p.add_argument("--impose-pattern", default="unstructured", choices=("unstructured", "4x1", "1x4", "2:4"),
                   help="pattern for --impose-sparsity (default unstructured)")
    p.add_argument("--impose-all", action="store_true",
                   help="--impose-sparsity also prunes the first conv and the final classifier")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-x", "--export", metavar="JSON", default=None, help="write the results as JSON")
    p.add_argument("--demo-layers", type=int, default=12, help="encoder layers of the demo model (default 12)")
    return p


def _usage_problems(args) -> Optional[str]:
    checks = [("-t", args.time, 0), ("-w", args.warmup, 0), ("-b", args.batch_size, 1), ("--threads", args.threads, 1),
              ("--streams", args.streams, 1), ("--demo-layers", args.demo_layers, 1),
              ("--profile-runs", args.profile_runs, 1), ("--profile-top", args.profile_top, 1)]
    for flag, v, lo in checks:
        if v is not None and v < lo:
            return f"{flag} must be >= {lo}, got {v:g}"
    if args.impose_sparsity is not None and not 0.0 <= args.impose_sparsity <= 1.0:
        return f"--impose-sparsity must be in [0, 1], got {args.impose_sparsity:g}"
    for flag, path in (("-x", args.export), ("--profile-export", args.profile_export)):
        if path:
            out_dir = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(out_dir):
                return f"cannot write {path}: directory {out_dir} does not exist"
    return None


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    prog = Progress(enabled=False if args.quiet else None)

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    def fail(msg, code: int = EXIT_FAILED) -> int:
        prog.clear()
        print(f"sparse-bench: error: {' '.join(str(msg).split())}", file=sys.stderr)
        return code

    problem = _usage_problems(args)
    if problem:
        return fail(problem, EXIT_USAGE)
    args.profile = args.profile or bool(args.profile_export)
    try:
        args.streams = check_scenario(args.scenario, args.streams)
        if args.input_shapes is not None:
            args.input_shapes = parse_input_shapes(args.input_shapes)
        payload, code = (run_demo if args.model is None else run_model)(args, say, prog)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except InputShapesError as e:
        return fail(e, EXIT_USAGE)
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
    if code == EXIT_DISAGREE:
        return fail("outputs disagree with onnxruntime beyond the tolerance (max abs diff "
                    f"{payload['compare']['agreement']['max_abs_diff']:.3g}; see --atol/--rtol)", code)
    return code


if __name__ == "__main__":
    sys.exit(main())
