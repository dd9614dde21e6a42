"""Weight-layout oracle for pruning tests, written independently of the code under test."""
import numpy as np


def canon(a: np.ndarray, layout: str) -> np.ndarray:
    """A weight as [out, taps, in]: MatMul "KN" [K, N], Gemm-transposed "NK" [N, K], Conv "OIHW"."""
    if layout == "KN":
        return a.T[:, None, :]
    if layout == "NK":
        return a[:, None, :]
    co, ci, kh, kw = a.shape
    return a.transpose(0, 2, 3, 1).reshape(co, kh * kw, ci)
