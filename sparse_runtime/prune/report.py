"""Text reports: per-layer sparsity and sizes, and the file size report (raw and gzip).

The size report follows TensorFlow Model Optimization's pruning guide: pruning alone does not
shrink a dense file, but the zeros compress, so the guide compares gzip-compressed sizes. With
sparse storage the raw file shrinks too; both are shown, dense vs pruned, with the ratio.
"""
from __future__ import annotations


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def layer_table(reports: list, itemsize: int = 4) -> str:
    """One row per prunable layer: shape, params, nonzeros, sparsity, dense vs nonzero bytes."""
    rows = [("layer", "op", "shape", "params", "nonzero", "sparsity", "dense", "nz-bytes", "how")]
    for r in reports:
        how = r.method if r.excluded is None else f"kept ({r.excluded})"
        rows.append((r.name, r.op, "x".join(map(str, r.shape)), f"{r.params:,}", f"{r.nonzeros:,}",
                     f"{100 * r.sparsity:5.1f} %", human(r.params * itemsize), human(r.nonzeros * itemsize),
                     how or ""))
    tot_p = sum(r.params for r in reports)
    tot_nz = sum(r.nonzeros for r in reports)
    rows.append(("total", "", "", f"{tot_p:,}", f"{tot_nz:,}",
                 f"{100 * (1 - tot_nz / tot_p) if tot_p else 0:5.1f} %", human(tot_p * itemsize),
                 human(tot_nz * itemsize), ""))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    right = {3, 4, 5, 6, 7}
    lines = []
    for k, row in enumerate(rows):
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if k == 0 or k == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def size_report(dense: dict, pruned: dict) -> str:
    """``dense`` / ``pruned``: {"raw": bytes, "gzip": bytes} (see storage.file_sizes)."""
    lines = [f"{'file size':11}{'dense':>12}{'pruned':>12}{'ratio':>9}"]
    for k in ("raw", "gzip"):
        ratio = dense[k] / pruned[k] if pruned[k] else float("inf")
        lines.append(f"{k:11}{human(dense[k]):>12}{human(pruned[k]):>12}{ratio:>8.2f}x")
    return "\n".join(lines)
