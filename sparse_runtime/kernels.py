"""Python face of the native module: packing, per-layer format choice, and the kernel entry points.

Weights are packed once (``pack``) into one of ``FORMATS``; ``choose_format`` picks the fastest
format for a layer by timing the candidate kernels on its real shape, caching the verdict for
identical layers (a BERT encoder has 12 copies of each shape).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from . import _native

PackedMatrix = _native.PackedMatrix
# A PackedMatMul bound once (weight, bias, activation, layouts): ``rows(x, residual)`` /
# ``tiles(x, shape, residual)`` (token tiles of the row-major activation of ``shape``) return the
# product, or None where the call does not fit its fast path.
LinearOp = _native.LinearOp
# A PackedConv bound once (weights, bias, activation, kernel geometry, layouts): ``run(x, residual)``
# returns the output, or None where the call does not fit (the caller's general path then words
# the error).
ConvOp = _native.ConvOp

try:  # resolve the ISA now, so a bad SPARSE_RUNTIME_ISA fails at import with its name
    _native.get_isa()
except ValueError as _e:
    raise ImportError(f"SPARSE_RUNTIME_ISA={__import__('os').environ.get('SPARSE_RUNTIME_ISA')!r}: {_e}") from None
FORMATS = ("dense", "csr", "bsr4x1", "bsr1x4", "nm24")
ACTIVATIONS = ("none", "relu", "gelu_erf", "gelu_tanh")

# Kernel names carry dtype, op, tile and ISA (e.g. f32-csrmm-4v-avx512): used in reports.
_KERNEL_STEM = {
    "dense": "f32-gemm-32xNr",
    "csr": "f32-csrmm-1x1",
    "bsr4x1": "f32-bsrmm-4x1",
    "bsr1x4": "f32-bsrmm-1x4",
    "nm24": "f32-nmmm-2:4",
}


def cpu_info() -> dict:
    """Detected CPU features, the best ISA, the ISA in use and the thread count."""
    return dict(_native.cpu_info())


def supported_isas() -> list:
    return list(_native.supported_isas())


def get_isa() -> str:
    return _native.get_isa()


def set_isa(name: str) -> None:
    """Force a kernel level (scalar|avx2|avx512) for the whole process; ValueError if unsupported."""
    _native.set_isa(name)


@contextlib.contextmanager
def _setting(get, set_, value):
    """Run a block with a process-wide kernel setting changed, restoring it after."""
    previous = get()
    set_(value)
    try:
        yield
    finally:
        set_(previous)


def force_isa(name: str):
    """Run a block with another ISA, restoring the previous one after (tests, benchmarks)."""
    return _setting(get_isa, set_isa, name)


def fma_peak_gflops(seconds: float = 0.3) -> float:
    """fp32 FMA peak of one core at the active ISA, measured (best of 3 runs of register-only FMA
    chains on the calling thread), in GFLOP/s. The machine's peak is this times its cores, when
    all cores run at that clock (check: run one probe per core at once)."""
    return float(_native.fma_peak_gflops(float(seconds)))


def get_num_threads() -> int:
    return _native.get_num_threads()


def set_num_threads(n: int) -> None:
    _native.set_num_threads(int(n))


def num_threads(n: int):
    """Run a block with n kernel threads, restoring the previous count after (tests, benchmarks)."""
    return _setting(get_num_threads, set_num_threads, n)


def kernel_name(fmt: str, isa: Optional[str] = None) -> str:
    return f"{_KERNEL_STEM[fmt]}-{isa or get_isa()}"


def pack(weight_nk: np.ndarray, fmt: str) -> PackedMatrix:
    """Pack a dense [N outputs, K] float32 matrix; ValueError if the format cannot hold it."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown weight format '{fmt}': expected one of {', '.join(FORMATS)}")
    return _native.pack(np.ascontiguousarray(weight_nk, dtype=np.float32), fmt)


def from_scipy(matrix) -> PackedMatrix:
    """CSR PackedMatrix from a scipy.sparse matrix [N, K] (indices validated natively)."""
    csr = matrix.tocsr()
    csr.sum_duplicates()
    n, k = csr.shape
    return _native.from_csr(n, k, csr.indptr.astype(np.int32), csr.indices.astype(np.int32),
                            np.ascontiguousarray(csr.data, dtype=np.float32))


def to_scipy(packed: PackedMatrix):
    """The packed matrix as scipy.sparse (CSR or BSR with the same blocks) for checks and export."""
    import scipy.sparse as sp

    arrays = packed.arrays()
    n, k = packed.shape
    if packed.format == "csr":
        return sp.csr_matrix((arrays["val"], arrays["col"], arrays["ptr"]), shape=(n, k))
    if packed.format == "bsr4x1":
        rows = -(-n // 4) * 4
        data = arrays["val"].reshape(-1, 4, 1)
        m = sp.bsr_matrix((data, arrays["col"], arrays["ptr"]), shape=(rows, k))
        return m.tocsr()[:n]
    if packed.format == "bsr1x4":
        data = arrays["val"].reshape(-1, 1, 4)
        return sp.bsr_matrix((data, arrays["col"] // 4, arrays["ptr"]), shape=(n, k))
    return sp.csr_matrix(packed.to_dense())


@dataclass
class FormatChoice:
    format: str
    timings_ms: dict  # candidate -> measured ms (empty when the choice was forced or modelled)
    reason: str


def candidate_formats(weight_nk: np.ndarray) -> list:
    """Formats worth timing for this weight, with a cheap model pruning hopeless ones."""
    n, k = weight_nk.shape
    nz = weight_nk != 0
    density = float(nz.mean()) if nz.size else 0.0
    if density > 0.6:  # sparse kernels cannot win with index overhead on mostly dense data
        return ["dense"]
    candidates = ["csr"] if density < 0.02 else ["dense", "csr"]
    nnz = max(int(nz.sum()), 1)
    if n >= 4:
        rows = -(-n // 4) * 4
        padded = np.zeros((rows, k), bool)
        padded[:n] = nz
        blocks = int(padded.reshape(rows // 4, 4, k).any(axis=1).sum())
        if blocks * 4 <= 1.3 * nnz:  # few zeros stored inside kept blocks
            candidates.append("bsr4x1")
    if k % 4 == 0:
        groups = nz.reshape(n, k // 4, 4)
        if int(groups.any(axis=2).sum()) * 4 <= 1.3 * nnz:
            candidates.append("bsr1x4")
        if groups.sum(axis=2).max(initial=0) <= 2 and density > 0.3:
            candidates.append("nm24")
    return candidates


_choice_cache: dict = {}


def _aligned_activations(k: int, m: int) -> np.ndarray:
    """Random activations [k, m] in 64-byte aligned rows of whole cache lines (m rounded up to 16),
    as conv's gathered tiles are (a misaligned buffer would time CSR up to 45 % slow)."""
    ld = -(-m // 16) * 16
    buf = np.empty(k * ld + 16, np.float32)
    start = (-(buf.ctypes.data // 4)) % 16
    b = buf[start:start + k * ld].reshape(k, ld)
    b[...] = np.random.default_rng(0).standard_normal((k, ld))
    return b


def _time_candidates(run: dict, rounds: int = 5, runoff_rounds: int = 5, runoff_margin: float = 1.5) -> dict:
    """Each candidate's best milliseconds over ``rounds`` rounds, the candidates interleaved round by
    round so that a burst of machine noise hits all of them rather than deciding the contest. When
    the runner-up is within ``runoff_margin`` of the leader, the two run ``runoff_rounds`` more rounds:
    a close contest is the one noise flips (on this shared machine one benchmark run put a layer of
    the 4x1-pruned MLP and one of BERT on CSR, about 1.3x slower there; every
    re-run, five of the MLP and three of BERT, chose 4x1)."""
    for fn in run.values():
        fn()  # warm caches and the pool
    best = {fmt: float("inf") for fmt in run}

    def time_rounds(formats, count):
        for _ in range(count):
            for fmt in formats:
                t0 = time.perf_counter()
                run[fmt]()
                best[fmt] = min(best[fmt], (time.perf_counter() - t0) * 1e3)

    time_rounds(list(run), rounds)
    if len(run) >= 2:
        first, second = sorted(best, key=best.get)[:2]
        if best[second] < runoff_margin * best[first]:
            time_rounds([first, second], runoff_rounds)
    return best


def choose_format(weight_nk: np.ndarray, m: int, forced: str = "auto", layout: str = "rows") -> FormatChoice:
    """Pick the weight format for a layer computing m columns (tokens or pixels) per call.

    ``layout`` says how the layer runs: "rows" for a MatMul on row-major activations (timed through
    ``linear``, transposes included), "channels" for a convolution (timed on im2col-like columns).

    ``forced`` other than "auto" is honoured when the format can hold the weight; otherwise the
    choice falls back to timing. Timings are minima over interleaved rounds on random activations
    of the layer's real size; identical layers (same shape, density and candidates) reuse the verdict.
    """
    weight_nk = np.ascontiguousarray(weight_nk, dtype=np.float32)
    n, k = weight_nk.shape
    candidates = candidate_formats(weight_nk)
    if forced != "auto":
        if forced not in FORMATS:
            raise ValueError(f"unknown weight format '{forced}': expected auto or one of {', '.join(FORMATS)}")
        try:
            pack(weight_nk, forced)
            return FormatChoice(forced, {}, "forced")
        except ValueError:
            pass  # e.g. nm24 on a weight that is not 2:4: choose by timing instead
    if len(candidates) == 1:
        return FormatChoice(candidates[0], {}, "modelled")
    m = int(max(1, min(m, 256)))
    density = round(float((weight_nk != 0).mean()), 2)
    key = (n, k, m, density, tuple(candidates), layout, get_isa(), get_num_threads())
    if key in _choice_cache:
        return _choice_cache[key]
    packed = {fmt: pack(weight_nk, fmt) for fmt in candidates}
    if layout == "rows":
        x = np.random.default_rng(0).standard_normal((m, k)).astype(np.float32)
        run = {fmt: (lambda p=p: _native.linear(p, x, None, "none", None, None)) for fmt, p in packed.items()}
    else:
        # One column tile, as conv feeds the kernels (ops/conv.cc gathers [k][64] blocks).
        b = _aligned_activations(k, min(m, 64))
        run = {fmt: (lambda p=p: _native.spmm(p, b)) for fmt, p in packed.items()}
    timings = _time_candidates(run)
    best = min(timings, key=timings.get)
    choice = FormatChoice(best, timings, "measured")
    _choice_cache[key] = choice
    return choice


def linear(x: np.ndarray, packed: PackedMatrix, bias: Optional[np.ndarray] = None,
           act: str = "none", out: Optional[np.ndarray] = None,
           residual: Optional[np.ndarray] = None) -> np.ndarray:
    """Y[M, N] = act(X[M, K] · Wᵀ + bias + residual) where ``packed`` holds W as [N, K]."""
    return _native.linear(packed, x, bias, act, out, residual)


def linear_tiled(x: np.ndarray, packed: PackedMatrix, m: int, x_tiles: bool, tiles_out: bool,
                 bias: Optional[np.ndarray] = None, act: str = "none",
                 residual: Optional[np.ndarray] = None) -> np.ndarray:
    """``linear`` with the input and/or the result as token tiles [ceil(m/64), features, 64]
    (channels-major blocks of 64 tokens, columns past m unused): consecutive layers hand over
    without transposing back to rows. A residual needs row-major output."""
    return _native.linear_tiled(packed, x, int(m), bool(x_tiles), bool(tiles_out), bias, act, residual)


def spmm(packed: PackedMatrix, b: np.ndarray, bias: Optional[np.ndarray] = None,
         act: str = "none") -> np.ndarray:
    """C[N, m] = act(A[N, K] · B[K, m] + bias): the kernels' channels-major form."""
    return _native.spmm(packed, b, bias, act)


def conv2d(groups: Sequence[PackedMatrix], x: np.ndarray, bias: Optional[np.ndarray],
           kernel_shape: Sequence[int], strides: Sequence[int], pads: Sequence[int],
           dilations: Sequence[int], act: str = "none", residual: Optional[np.ndarray] = None,
           x_blocked: bool = False, y_blocked: bool = False) -> np.ndarray:
    """NCHW conv; ``groups[g]`` packs group g's weight as [Co/g, Ci/g*kh*kw]; pads = (t, l, b, r);
    ``residual`` (the output's shape) is added before the activation. ``x_blocked`` / ``y_blocked``:
    the input / the output (and residual) are blocked, [N, ceil(C/32), H, W, 32] (``to_blocked``)."""
    return _native.conv2d(list(groups), x, bias, int(kernel_shape[0]), int(kernel_shape[1]),
                          list(strides), list(pads), list(dilations), act, residual, bool(x_blocked), bool(y_blocked))


def global_average_pool(x: np.ndarray, blocked: bool = False, channels: int = -1) -> np.ndarray:
    """Mean over H, W of a float32 NCHW array, or of a blocked one (``to_blocked``) holding
    ``channels`` channels: (N, C, 1, 1) float32."""
    return _native.global_average_pool(x, bool(blocked), int(channels))


def gather_rows(table: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``table[indices]`` along axis 0 on the native pool: C-contiguous numeric ``table``, int32/int64
    ``indices`` (negative ones count from the end; IndexError when out of range)."""
    return _native.gather_rows(table, indices)


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` for float32 C-contiguous arrays of one shape, on the native pool."""
    return _native.add(a, b)


def attention_qkv(qkv: np.ndarray, mask: Optional[np.ndarray], scale: float, heads: int, head_dim: int,
                  offsets: Sequence[int], heads_last: bool = False, merge_heads: bool = False) -> np.ndarray:
    """softmax(scale * Q·Kᵀ + mask) · V with the heads read in place from a packed projection
    ``qkv`` [B, S, W] (float32, C-contiguous): head h of Q is ``qkv[:, :, offsets[0] + h * head_dim:][..., :head_dim]``,
    of K and V at ``offsets[1]`` / ``offsets[2]``. Result [B, heads, S, head_dim], [B, S, heads,
    head_dim] with ``heads_last``, or [B, S, heads * head_dim] with ``merge_heads`` too."""
    return _native.attention_qkv(qkv, mask, float(scale), int(heads), int(head_dim), int(offsets[0]),
                                 int(offsets[1]), int(offsets[2]), bool(heads_last), bool(merge_heads))


def to_blocked(x: np.ndarray) -> np.ndarray:
    """NCHW float32 -> blocked [N, ceil(C/32), H, W, 32] (channel c at [:, c // 32, :, :, c % 32];
    the last block's padding channels are zero): the layout dense convs hand each other."""
    return _native.to_blocked(x)


def from_blocked(x: np.ndarray, channels: int) -> np.ndarray:
    """Blocked [N, ceil(C/32), H, W, 32] float32 -> NCHW with ``channels`` channels."""
    return _native.from_blocked(x, int(channels))


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul for float32 operands of rank >= 2, on the native pool (numpy broadcasting rules)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out_shape = tuple(batch) + (a.shape[-2], b.shape[-1])
    if 0 in out_shape or a.shape[-1] == 0:
        return np.matmul(a, b)

    def full_or_single(x):
        # The kernel takes a full batch or one shared matrix; anything between is broadcast here.
        if x.shape[:-2] == tuple(batch) or int(np.prod(x.shape[:-2])) == 1:
            return np.ascontiguousarray(x)
        return np.ascontiguousarray(np.broadcast_to(x, tuple(batch) + x.shape[-2:]))

    return _native.matmul(full_or_single(a), full_or_single(b)).reshape(out_shape)


def _unit_last(x: np.ndarray) -> np.ndarray:
    """x itself when its last axis is contiguous (any other strides are fine), else a copy."""
    return x if x.shape[-1] <= 1 or x.strides[-1] == x.itemsize else np.ascontiguousarray(x)


def attention(q: np.ndarray, kt: np.ndarray, v: np.ndarray, mask: Optional[np.ndarray] = None,
              scale: float = 1.0, heads_last: bool = False) -> Optional[np.ndarray]:
    """softmax(scale · q @ kt + mask) @ v for float32 operands of rank 2 to 4 (numpy broadcasting
    over the leading dims), fused per head on the native pool. Transposed views (a head split
    and Kᵀ) are read in place. Returns None where the fused kernel does not apply (rank > 4, an
    empty operand, a mask that broadcasts along keys): callers take the unfused path.

    ``heads_last`` returns the result as ``transpose(0, 2, 1, 3)`` of the plain one would be, laid
    out contiguously (the heads merged back into each token's row); it needs a 4-D result."""
    ops = (q, kt, v) if mask is None else (q, kt, v, mask)
    if any(x.ndim < 2 or x.ndim > 4 or x.size == 0 for x in ops):
        return None
    if mask is not None and (mask.shape[-1] != kt.shape[-1] or mask.shape[-2] not in (1, q.shape[-2])):
        return None
    if heads_last and max(x.ndim for x in ops) != 4:
        return None
    if kt.strides[-1] != 4 and kt.strides[-2] != 4:
        kt = np.ascontiguousarray(kt)
    return _native.attention(_unit_last(q), kt, _unit_last(v), None if mask is None else _unit_last(mask),
                             float(scale), bool(heads_last))


# The native fused attention without attention()'s screening: raises TypeError / ValueError for
# operands it does not take (FusedAttention's fast path catches them and takes the general one).
attention_unchecked = _native.attention
# attention_qkv's native call, arguments as (qkv, mask, scale, heads, head_dim, q_off, k_off, v_off,
# heads_last, merge_heads), without the wrapper's conversions.
attention_qkv_unchecked = _native.attention_qkv


def maxpool2d(x: np.ndarray, kernel_shape: Sequence[int], strides: Sequence[int], pads_begin: Sequence[int],
              dilations: Sequence[int], out_shape: Sequence[int], blocked: bool = False,
              nchw_channels: int = -1) -> np.ndarray:
    """Max pooling of an NCHW float32 array (or a blocked one, ``to_blocked``); ``pads_begin`` =
    (top, left) and ``out_shape`` = (Ho, Wo) already resolved (ceil_mode, auto_pad). Taps in the
    padding are skipped. A blocked input gives a blocked output, or with ``nchw_channels`` >= 0
    an NCHW one holding that many channels."""
    return _native.maxpool2d(np.ascontiguousarray(x), int(kernel_shape[0]), int(kernel_shape[1]),
                             [int(s) for s in strides], [int(p) for p in pads_begin], [int(d) for d in dilations],
                             int(out_shape[0]), int(out_shape[1]), bool(blocked), int(nchw_channels))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a float32 array (a new array)."""
    return _native.softmax(np.ascontiguousarray(x))


# The native layer norm without the contiguous copy: raises TypeError / ValueError for an input it
# does not take (not float32 and C-contiguous, a scale / bias of another length).
layernorm_unchecked = _native.layernorm


def layernorm(x: np.ndarray, scale: Optional[np.ndarray], bias: Optional[np.ndarray],
              epsilon: float) -> np.ndarray:
    """Layer normalisation over the last axis of a float32 array (a new array)."""
    return _native.layernorm(np.ascontiguousarray(x), scale, bias, float(epsilon))


def activation_(x: np.ndarray, act: str) -> np.ndarray:
    """Apply an activation in place (float32, C-contiguous) with the vectorised native code."""
    _native.activation(x, act)
    return x
