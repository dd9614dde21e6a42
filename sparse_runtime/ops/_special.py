"""erf and the logistic function, from scipy when available (fast, dtype-preserving), else
numpy fallbacks so the runtime does not hard-depend on scipy."""
from __future__ import annotations

import math

import numpy as np

try:  # pragma: no cover - depends on the environment
    from scipy.special import erf as _erf
    from scipy.special import expit as _expit
except ImportError:  # pragma: no cover
    _erf = None
    _expit = None


def erf(x: np.ndarray) -> np.ndarray:
    if _erf is not None:
        r = _erf(x)
    else:
        r = np.vectorize(math.erf, otypes=[np.float64])(x)
    return r if r.dtype == x.dtype else r.astype(x.dtype)


def sigmoid(x: np.ndarray) -> np.ndarray:
    if _expit is not None:
        r = _expit(x)
    else:
        # exp of a non-positive number never overflows: split by sign for stability.
        e = np.exp(-np.abs(x))
        r = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return r if r.dtype == x.dtype else r.astype(x.dtype)
