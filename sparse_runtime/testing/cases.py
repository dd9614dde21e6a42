"""One table of kernel cases (shape x density x pattern) for the kernel tests and benchmarks.

Shapes cover the edges that break kernels: K = 1, a single column, column counts that are not a
multiple of any vector width, rows with no nonzeros, and 0 % to 100 % density.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    n: int  # outputs (rows of the packed matrix)
    k: int  # reduction
    m: int  # columns: tokens or pixels
    density: float
    pattern: str = "unstructured"  # unstructured | 4x1 | 1x4 | 2:4 | empty_rows

    @property
    def id(self) -> str:
        return f"{self.n}x{self.k}x{self.m}-d{self.density:g}-{self.pattern}"


# Small enough for the scalar ISA in tests; every format runs every case it can hold.
TEST_CASES = [
    Case(8, 1, 16, 1.0),
    Case(5, 1, 3, 0.5),
    Case(13, 24, 1, 0.5),
    Case(16, 32, 17, 0.0),
    Case(16, 32, 64, 1.0),
    Case(37, 64, 70, 0.5),
    Case(37, 64, 70, 0.1),
    Case(40, 96, 33, 0.01),
    Case(33, 40, 129, 0.1, "empty_rows"),
    Case(32, 64, 45, 0.2, "4x1"),
    Case(30, 64, 19, 0.2, "1x4"),
    Case(24, 64, 50, 0.5, "2:4"),
    Case(64, 128, 96, 0.1),
    Case(64, 128, 96, 0.9),
    # Reductions long enough for several CSR k-panels (64 / 128 / 256 k each by density), with
    # rows that are empty in some panels or in all of them.
    Case(40, 300, 33, 0.1),
    Case(24, 200, 20, 0.5),
    Case(33, 260, 40, 0.3, "empty_rows"),
    Case(17, 1100, 65, 0.03),
    # One column through several CSR k-panels (the GEMV walk goes panel by panel).
    Case(40, 700, 1, 0.1, "empty_rows"),
    # Dense: four 32-output panels, the last one partial; two k blocks; a 7x7 plane's 49 columns.
    Case(100, 1600, 49, 1.0),
]

# Layer shapes of the benchmark models (BERT-base FFN, ResNet-50 stages).
BENCH_CASES = [
    Case(3072, 768, 128, d) for d in (1.0, 0.5, 0.3, 0.2, 0.1, 0.05)
] + [
    Case(768, 3072, 128, 0.1),
    Case(3072, 768, 128, 0.2, "4x1"),
    Case(3072, 768, 128, 0.2, "1x4"),
    Case(3072, 768, 128, 0.5, "2:4"),
    Case(3072, 768, 1, 0.1),
    Case(256, 2304, 196, 0.1),
    Case(512, 128, 784, 0.1),
]


def make_weight(case: Case, seed: int = 0) -> np.ndarray:
    """A [n, k] float32 matrix with the case's density and nonzero pattern."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((case.n, case.k)).astype(np.float32)
    if case.pattern == "2:4":
        assert case.k % 4 == 0
        keep = np.argsort(rng.random((case.n, case.k // 4, 4)), axis=2)[:, :, :2]
        mask = np.zeros((case.n, case.k // 4, 4), bool)
        np.put_along_axis(mask, keep, True, axis=2)
        mask = mask.reshape(case.n, case.k)
    elif case.pattern == "4x1":
        rows = -(-case.n // 4)
        mask = np.repeat(rng.random((rows, case.k)) < case.density, 4, axis=0)[: case.n]
    elif case.pattern == "1x4":
        mask = np.repeat(rng.random((case.n, case.k // 4)) < case.density, 4, axis=1)
    else:
        mask = rng.random((case.n, case.k)) < case.density
        if case.pattern == "empty_rows":
            mask[::3] = False
    if case.density >= 1.0 and case.pattern == "unstructured":
        mask[:] = True
    w[~mask] = 0.0
    return w


def formats_for(case: Case) -> list:
    """Formats that can hold the case's weight."""
    fmts = ["dense", "csr", "bsr4x1"]
    if case.k % 4 == 0:
        fmts.append("bsr1x4")
        if case.pattern == "2:4" or case.density == 0.0:
            fmts.append("nm24")
    return fmts
