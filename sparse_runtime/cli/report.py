"""Text that sparse-bench prints: the result block, the comparison rows, the profile table.
Pure functions from results to strings, so the CLI and tests share them."""
from __future__ import annotations


def _pct(x) -> str:
    return f"{100 * x:.1f} %" if isinstance(x, (int, float)) else "n/a"


def _flops(n: float) -> str:
    for unit, f in (("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if n >= f:
            return f"{n / f:.2f} {unit}"
    return f"{n:.0f} FLOP"


def format_result(r) -> str:
    lat = r.latency_ms
    shapes = ", ".join(f"{k}{tuple(v['shape'])} {v['dtype']}" for k, v in r.inputs.items())
    scen = r.scenario + (f" ({r.streams} streams)" if r.scenario == "async" else "")
    lines = [
        f"Model:          {r.model}",
        f"Inputs:         {shapes}",
        f"Batch size:     {r.batch_size}",
        f"Scenario:       {scen}",
        f"Threads:        {r.threads}",
        f"ISA:            {r.isa}",
        f"Native kernels: {r.native_nodes} of {r.nodes} nodes ({_pct(r.native_node_fraction)}), "
        f"{_pct(r.native_flop_fraction)} of {_flops(r.flops_per_run)} per run (dense-equivalent)",
    ]
    if r.native_time_fraction is not None:
        lines.append(f"Native time:    {_pct(r.native_time_fraction)} of run time in native kernels "
                     f"(the rest: Python and numpy glue)")
    lines += [
        f"Sparse layers:  {r.sparse_layers} of {r.lowered_layers} lowered layers"
        + ("  (none lowered: no packed kernel ran)" if r.lowered_layers == 0 else "")
        + (f"; weight sparsity {_pct(r.weight_sparsity)}" if r.weight_sparsity is not None else ""),
        f"Compile:        {r.compile_seconds:.2f} s",
        f"Iterations:     {r.iterations} in {r.seconds:.2f} s (after {r.warmup_iterations} warm-up)",
        f"Throughput:     {r.items_per_second:.2f} items/s",
        f"Latency (ms):   mean {lat['mean']:.3f}  median {lat['median']:.3f}  std {lat['std']:.3f}",
        f"                p90 {lat['p90']:.3f}  p95 {lat['p95']:.3f}  p99 {lat['p99']:.3f}",
    ]
    lines += [f"Note:           {n}" for n in r.notes]
    return "\n".join(lines)


def _table(header, rows, right=()) -> list:
    cells = [list(header)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    out = []
    for i, row in enumerate(cells):
        out.append("  ".join(c.rjust(w) if j in right else c.ljust(w)
                             for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def format_comparison(rows: list, agreement: dict, baseline: str) -> str:
    """``rows``: (label, BenchResult); the first is ours. Speed-up = our items/s over each other's."""
    header = ("runtime", "items/s", "mean ms", "median", "std", "p90", "p95", "p99", "iterations")
    table = []
    for label, r in rows:
        lat = r.latency_ms
        table.append((label, f"{r.items_per_second:.2f}", f"{lat['mean']:.3f}", f"{lat['median']:.3f}",
                      f"{lat['std']:.3f}", f"{lat['p90']:.3f}", f"{lat['p95']:.3f}", f"{lat['p99']:.3f}",
                      r.iterations))
    lines = ["Comparison (alternating 0.25 s turns, first call of each turn untimed, same inputs, same process):"]
    lines += ["  " + s for s in _table(header, table, right=set(range(1, 9)))]
    ours = rows[0][1].items_per_second
    for label, r in rows[1:]:
        lines.append(f"Speed-up:       {ours / r.items_per_second:.2f}x over {label} (throughput ratio)")
    verdict = "agree" if agreement["agree"] else "DISAGREE"
    lines.append(f"Outputs:        {verdict} with {baseline}: max abs diff {agreement['max_abs_diff']:.3g} "
                 f"(tolerance |diff| <= {agreement['atol']:g} + {agreement['rtol']:g} x |{baseline}|)")
    return "\n".join(lines)


def format_profile(profile, top: int = 30, bench_mean_ms=None) -> str:
    rows = profile.by_time()
    header = ("name", "op", "kernel", "output shape", "w.sparsity", "ms", "%", "GFLOP/s")
    table = []
    for r in rows[:top]:
        shape = "x".join(str(d) for d in r.output_shapes[0]) if r.output_shapes and r.output_shapes[0] else "-"
        sp = f"{100 * r.weight_sparsity:.1f}%" if r.weight_sparsity is not None else "-"
        gf = f"{r.gflops:.2f}" if r.nonzero_flops else "-"
        table.append((r.name, r.op, r.kernel, shape, sp, f"{r.mean_ms:.3f}", f"{r.percent:.1f}", gf))
    lines = [f"Profile: {len(rows)} nodes, mean of {len(profile.run_ms)} profiled run(s), slowest first "
             "(GFLOP/s counts non-zero weights only)"]
    lines += ["  " + s for s in _table(header, table, right={4, 5, 6, 7})]
    rest = rows[top:]
    if rest:
        ms = sum(r.mean_ms for r in rest)
        lines.append(f"  ... {len(rest)} more nodes: {ms:.3f} ms ({100 * ms / (profile.nodes_ms or 1):.1f} %)")
    total = profile.total_ms
    lines.append(f"Sum of nodes:   {profile.nodes_ms:.3f} ms = {100 * profile.nodes_ms / (total or 1):.1f} % "
                 f"of the measured profiled run ({total:.3f} ms)"
                 + (f"; unprofiled mean latency {bench_mean_ms:.3f} ms" if bench_mean_ms is not None else ""))
    by_op: dict = {}
    for r in rows:
        by_op[r.op] = by_op.get(r.op, 0.0) + r.mean_ms
    top_ops = sorted(by_op.items(), key=lambda kv: -kv[1])[:8]
    lines.append("By op type:     " + ", ".join(f"{op} {100 * ms / (profile.nodes_ms or 1):.1f} %"
                                                for op, ms in top_ops))
    return "\n".join(lines)
