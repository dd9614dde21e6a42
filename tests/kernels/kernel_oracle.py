"""numpy/scipy oracles for the native kernels (float64 accumulation)."""
import numpy as np
from scipy.special import erf


def activate(y, act):
    if act == "relu":
        return np.maximum(y, 0)
    if act == "gelu_erf":
        return 0.5 * y * (1 + erf(y / np.sqrt(2)))
    if act == "gelu_tanh":
        return 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3)))
    return y


def assert_close(got, want, what=""):
    """fp32 sums of up to a few hundred terms: error relative to the output's scale."""
    assert got.dtype == np.float32, f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    err = float(np.abs(got.astype(np.float64) - want).max(initial=0))
    assert err <= 1e-5 * scale, f"{what}: max abs error {err:.3g} (scale {scale:.3g})"
