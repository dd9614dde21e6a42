// The microkernel table: one instance per ISA, each filled by its own translation unit.
// Microkernels are pure: pointers, sizes, strides, an epilogue. No allocation, threads or exceptions.
// Each computes output rows [n0, n1) for m columns (see formats.h, item 2). For BSR 4x1 n0 is a
// multiple of 4, for packed dense a multiple of 32 (kDensePanel) and for plain dense of 8 (n1 may
// be N).
#pragma once
#include <cstddef>
#include <cstdint>

#include "sparse_runtime/formats.h"

namespace sr {

using CsrFn = void (*)(const CsrView&, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
                       ptrdiff_t ldc, int m, const Epilogue&);
// One column of a CSR product, split by weight panel (a task's contiguous run of the packed
// weight): dots[n - n0] = sum over panel pn's nonzeros of row n of val * x[(pn * kblock + col) * ldx],
// for rows [n0, n1); added to what dots holds when accumulate.
using CsrPanelDotsFn = void (*)(const CsrView&, int pn, int n0, int n1, const float* x, ptrdiff_t ldx, float* dots,
                                bool accumulate);
// Then rows [n0, n1) of C (row stride ldc) = epilogue of the panels' dots summed in panel order
// (panel p's dot of row n at partial[p * ldp + n - n0]).
using ColumnSumFn = void (*)(const float* partial, ptrdiff_t ldp, int panels, int n0, int n1, float* C,
                             ptrdiff_t ldc, const Epilogue&);
using Bsr4x1Fn = void (*)(const Bsr4x1View&, int n0, int n1, const float* B, ptrdiff_t ldb,
                          float* C, ptrdiff_t ldc, int m, const Epilogue&);
using Bsr1x4Fn = void (*)(const Bsr1x4View&, int n0, int n1, const float* B, ptrdiff_t ldb,
                          float* C, ptrdiff_t ldc, int m, const Epilogue&);
using Nm24Fn = void (*)(const Nm24View&, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
                        ptrdiff_t ldc, int m, const Epilogue&);
using DenseFn = void (*)(const DenseView&, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
                         ptrdiff_t ldc, int m, const Epilogue&);

// Implicit GEMM: B read in place from a stride-1 convolution's input, padded into rows of `pitch`
// floats (conv.cc). Column j at reduction index k is base[first + j + offset[k]]: consecutive
// columns are consecutive output pixels, a row's `pitch - valid` extra ones included. Those are
// computed and dropped: column v = first + j is pixel (v / pitch, v % pitch) of an output plane
// with `valid` pixels per row, stored at C[n * ldc + (v / pitch) * valid + v % pitch] when
// v % pitch < valid (C, and the epilogue's residual, start at the plane's first pixel).
//
// Blocked activations (formats.h, kChannelBlock): with column_stride 32, column j's value at k is
// base[(first + j) * 32 + offset[k]] (a pixel's 32 channels of a block are contiguous), and with
// blocked_out the panel's 32 outputs of pixel q go to C[panel * ldc + q * 32 ..+32] (ldc: floats
// per channel block), the residual alike; lanes past the weight's rows are stored as zeros.
struct ShiftedB {
  const float* base;
  const int32_t* offset;  // [k]
  int first, pitch, valid;
  int column_stride = 1;  // 1, or kChannelBlock for a blocked input
  bool blocked_out = false;
};
// Packed dense weights only (n0 a multiple of kDensePanel).
using DenseShiftedFn = void (*)(const DenseView&, int n0, int n1, const ShiftedB& B, float* C, ptrdiff_t ldc,
                                int m, const Epilogue&);
// dst[c][r] = src[r][c] for a rows x cols block (a tile of a larger matrix).
using TransposeFn = void (*)(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd);
// The same with a residual summed in: dst[c][r] = src[r][c] + res[c * ldr + r], then max(0, .) if
// relu. One pass over dst where a transpose then an add_activation pass took two.
using TransposeAddFn = void (*)(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                                const float* res, ptrdiff_t ldr, bool relu);
// dst[c][r] = act(src[r][c] + res[c * ldr + r]) for any activation: fused for ReLU / none, a
// second pass over dst for the others.
using TransposeAddActFn = void (*)(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                                   const float* res, ptrdiff_t ldr, Act act);
// y = softmax(scale * x + mask) over each of `rows` rows of `cols` floats (row strides ldx, ldy,
// ldm; mask may be null; x and y may alias).
using SoftmaxFn = void (*)(const float* x, ptrdiff_t ldx, float* y, ptrdiff_t ldy, const float* mask,
                           ptrdiff_t ldm, float scale, int rows, int cols);
// Row-wise over `rows` contiguous rows of `cols` floats (x and y may alias).
using LayerNormFn = void (*)(const float* x, float* y, int rows, int cols, const float* gamma,
                             const float* beta, float eps);
// dst[r][0..m) = base[offset[r] .. offset[r] + m) for r < k (dst row stride ldd): the k rows of a
// column tile of an implicit GEMM's B, copied into an aligned block (spmm.cc). A kernel reading
// B in place at those offsets did 1.3-1.5x slower (loads across cache lines).
using GatherShiftedFn = void (*)(const float* base, const int32_t* offset, int k, int m, float* dst, ptrdiff_t ldd);
// In-place activation over a contiguous run (used where no kernel epilogue can absorb it).
using ActFn = void (*)(float* x, ptrdiff_t count, Act act);
// y = act(y + r) in place (r may be null).
using AddActFn = void (*)(float* y, const float* r, ptrdiff_t count, Act act);

// FMA peak probe: `iterations` rounds of 12 independent register FMA chains (12 * W * 2 FLOP per
// round); returns a value depending on every chain so the work cannot be optimised away.
using FmaProbeFn = float (*)(int64_t iterations);
// Max pooling's two passes (csrc/ops/pool.cc): m[i] = max(m[i], r[i]) keeping NaNs, and per
// output pixel the max over its kernel_w taps of one row of `lanes`-float pixels (1, or a
// multiple of the ISA's vector width).
using MaxIntoFn = void (*)(float* m, const float* r, ptrdiff_t n);
using MaxColumnsFn = void (*)(const float* row, float* out, int out_w, int kernel_w, int stride, int dilation,
                              int lanes);

struct KernelTable {
  const char* isa;
  CsrFn csr;
  CsrPanelDotsFn csr_panel_dots;
  ColumnSumFn column_sum;
  Bsr4x1Fn bsr4x1;
  Bsr1x4Fn bsr1x4;
  Nm24Fn nm24;
  DenseFn dense;
  DenseShiftedFn dense_shifted;
  GatherShiftedFn gather_shifted;
  ActFn activation;
  AddActFn add_activation;
  TransposeFn transpose;
  TransposeAddActFn transpose_add;
  SoftmaxFn softmax;
  LayerNormFn layernorm;
  FmaProbeFn fma_probe;
  MaxIntoFn max_into;
  MaxColumnsFn max_columns;
  int vector_width;  // floats per vector: the probe's FLOP count depends on it
};

const KernelTable& kernels_scalar();
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();

// Block transposes: portable, and 8x8 AVX (shared by the AVX2 and AVX-512 levels).
void transpose_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd);
void transpose_avx(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd);
void transpose_add_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                          const float* res, ptrdiff_t ldr, bool relu);
void transpose_add_avx(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                       const float* res, ptrdiff_t ldr, bool relu);

}  // namespace sr
