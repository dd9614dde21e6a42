"""pytest-benchmark suite for the sparse/dense kernels over the shared case table.

Run: python -m pytest benchmarks/test_bench_kernels.py --benchmark-enable --benchmark-columns=median,ops
Each result carries effective GFLOP/s counted on nonzeros, its share of the measured FMA peak
(peak_fraction), the ISA and the kernel name in extra_info (see --benchmark-json);
benchmarks/kernel_efficiency.py writes the same figures as a table. Compare runs as ratios taken in one session: the machine is shared.
"""
import numpy as np
import pytest

from sparse_runtime import kernels
from sparse_runtime.testing.cases import BENCH_CASES, formats_for, make_weight


def _params():
    for case in BENCH_CASES:
        fmts = formats_for(case) if case.density < 1.0 else ["dense"]
        for fmt in fmts:
            if fmt == "dense" and case.density < 0.2 and case.m > 1:
                continue  # dense at 90 %+ sparsity only wastes benchmark time
            yield pytest.param(case, fmt, id=f"{case.id}-{fmt}")


@pytest.fixture(scope="session")
def core_peak():
    """Measured FMA peak of one core (kernels.fma_peak_gflops), for the peak_fraction figures."""
    return kernels.fma_peak_gflops(0.3)


@pytest.mark.parametrize("case,fmt", list(_params()))
def test_spmm(benchmark, case, fmt, core_peak):
    a = make_weight(case)
    b = np.random.default_rng(0).standard_normal((case.k, case.m)).astype(np.float32)
    packed = kernels.pack(a, fmt)
    benchmark(kernels.spmm, packed, b)
    if benchmark.stats is None:  # --benchmark-disable: a smoke run, nothing was timed
        return
    nonzeros = int(np.count_nonzero(a))
    median_s = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "isa": kernels.get_isa(), "kernel": kernels.kernel_name(fmt), "threads": kernels.get_num_threads(),
        "gflops_nonzero": 2.0 * nonzeros * case.m / median_s / 1e9, "density": case.density,
    })
    # share of the measured FMA peak of the cores in use, counted on nonzeros
    benchmark.extra_info["peak_fraction"] = (benchmark.extra_info["gflops_nonzero"]
                                             / (core_peak * kernels.get_num_threads()))


@pytest.mark.parametrize("case", [c for c in BENCH_CASES if c.m > 1][:1], ids=lambda c: c.id)
def test_row_major_linear(benchmark, case):
    """The MatMul path: transposes around the kernel included."""
    a = make_weight(case)
    x = np.random.default_rng(0).standard_normal((case.m, case.k)).astype(np.float32)
    packed = kernels.pack(a, "dense")
    benchmark(kernels.linear, x, packed)
