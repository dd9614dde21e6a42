// Dense microkernels, written once over vector traits T and instantiated per ISA with the sparse
// ones (table_impl.h).
//
// Packed weights (formats.h, item 8: panels of kDensePanel = 32 outputs, one contiguous run of 32
// per k) run on a register tile of 32 outputs x NR columns: per k it loads the panel's 32 weights
// as vectors and broadcasts NR activations B[k][j..j+NR). Outputs lie along the vector lanes, so
// no lane idles whatever the column count. With columns along the lanes (the previous kernel) a
// 7x7 plane's 49 columns took two weight passes with a quarter of the lanes idle: 45 GFLOP/s
// against 100 for this tile on ResNet-50's 7x7 layers (one core, AVX-512).
//
// The tile holds C transposed; it goes through a per-thread scratch ([panel][column][32]) between
// k blocks and is transposed into C, epilogue applied, after the last one.
//
// Plain row-major A (activations of a batched MatMul, attention) keeps columns along the lanes:
// 8 rows x NV vectors, each row's value broadcast.
#pragma once
#include <algorithm>
#include <cstddef>

#include "sparse_runtime/formats.h"
#include "sparse_runtime/kernels.h"
#include "sparse_runtime/scratch.h"
#include "spmm_impl.h"

namespace sr {
namespace impl {
// Internal linkage: see spmm_impl.h.
namespace {

// k in blocks of at most ~512: a block of B (up to 128 KiB for 64 columns) stays in L2 while every
// panel of the call passes over it. Without it a 3x3 conv with 512 input channels (k = 4608)
// re-read 1.2 MB of B from L3 for every panel. k <= 768 stays one block (BERT-base's 768 measured
// 4 % slower split). Blocks of 128-384 measured the same as this on ResNet-50's layers.
inline int gemm_k_block(int k) {
  const int blocks = k <= 768 ? 1 : (k + 511) / 512;
  return std::max(1, (k + blocks - 1) / blocks);
}

// ---- packed weights: 32 outputs x NR columns ------------------------------------------------

constexpr int kLineFloats = 16;  // floats per cache line

// What a tile fetches for the next one while it computes (null: nothing). Blocked activations are
// 32-float runs per pixel, one channel block a whole plane apart, so a tile's B is a dozen short
// runs per channel block that the hardware prefetchers pick up late; a 1x1 conv reads its input in
// place, cold (the previous layer's output, megabytes). Measured on one core, cold caches, GFLOP/s
// (alternating in one process): 256 -> 64 at 56x56 67 -> 96, 1024 -> 256 at 14x14 90 -> 100, the
// 64 -> 256 + residual at 56x56 72 -> 92 with `residual` and `out`; dense ResNet-50 whole 7 % faster
// on one thread, 4-5 % on two.
struct TilePrefetch {
  const float* b;         // the next tile's B (its column 0; SHIFTED offsets apply)
  const float* residual;  // direct mode: the next tile's residual pixels ([pixel][32])
  float* out;             // direct mode: the next tile's output pixels, to be written
};

// One pass of gemm_tile over outputs [0, VH * W) of the panel (a, ct, bias, res already offset).
template <class T, int NR, int VH, bool SHIFTED, int CS>
__attribute__((always_inline)) inline void gemm_pass(const float* a, const float* b, ptrdiff_t ldb,
                                                     const int32_t* offset, int kc, float* ct, bool accumulate,
                                                     const float* bias, const float* res, bool relu,
                                                     const TilePrefetch& next) {
  constexpr int P = kDensePanel;
  const float* const next_b = next.b;
  const float* const next_res = next.residual;
  float* const next_out = next.out;
  typename T::V acc[NR][VH];
#pragma GCC unroll 16
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < VH; ++v) acc[r][v] = accumulate ? T::load(ct + r * P + v * T::W) : T::zero();
  // A pixel's residual and output in one panel are 2 lines: 2 * NR lines over the first steps.
  // One bound (0 when there is nothing to fetch) that GCC versions the loop on, so the common
  // loop has no checks (AVX2: 37 instructions per 12 FMAs with the old per-step checks, 24 now).
  const int k_fetch = next_res || next_out ? std::min(kc, 2 * NR) : 0;
  for (int k = 0; k < kc; ++k) {
    if (k < k_fetch) {
      if (next_res) __builtin_prefetch(next_res + k * kLineFloats);
      if (next_out) __builtin_prefetch(next_out + k * kLineFloats, 1);
    }
    typename T::V w[VH];
#pragma GCC unroll 16
    for (int v = 0; v < VH; ++v) w[v] = T::load(a + k * P + v * T::W);
    const float* bk = SHIFTED ? b + offset[k] : b + k * ldb;
    if constexpr (SHIFTED && CS > 1) {
      if (next_b) {  // pixels 0-15 of the next tile, each line twice (a line holds 16 channels)
        __builtin_prefetch(next_b + offset[k] + (k & 7) * CS);
        __builtin_prefetch(next_b + offset[k] + ((k & 7) + 8) * CS);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < NR; ++r) {
      const auto x = T::set1(bk[r * CS]);
#pragma GCC unroll 16
      for (int v = 0; v < VH; ++v) acc[r][v] = T::fmadd(w[v], x, acc[r][v]);
    }
  }
  if (bias) {
    typename T::V bv[VH];
#pragma GCC unroll 16
    for (int v = 0; v < VH; ++v) bv[v] = T::load(bias + v * T::W);
#pragma GCC unroll 16
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < VH; ++v) acc[r][v] = T::add(acc[r][v], bv[v]);
  }
  if (res)
#pragma GCC unroll 16
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < VH; ++v) acc[r][v] = T::add(acc[r][v], T::load(res + r * P + v * T::W));
  if (relu)
#pragma GCC unroll 16
    for (int r = 0; r < NR; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < VH; ++v) acc[r][v] = T::max(acc[r][v], T::zero());
#pragma GCC unroll 16
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < VH; ++v) T::store(ct + r * P + v * T::W, acc[r][v]);
}

// ct[r][0..32) (+)= sum over kc of a[k][0..32) * B_k[r * CS], for r < NR, where B_k = b + k * ldb,
// or b + offset[k] for an implicit GEMM (SHIFTED; kernels.h, ShiftedB), whose columns are CS floats
// apart (1, or kChannelBlock for a blocked input). After a product's last k block, `bias` (32
// floats, or null) and `res` (laid out like ct, or null) are added and ReLU applied on the way out
// of the registers.
// All 32 outputs in one pass over k when NR columns of them, their weights and a broadcast fit the
// ISA's registers (AVX-512: 28 + 2 + 1 of 32); otherwise half the outputs per pass, B read twice
// from L1 (AVX2's 16 registers: 16 outputs x 6 columns, 12 + 2 + 1, where 32 x 2 left 8
// accumulators, too few chains to cover the FMA latency: 59 % of peak).
template <class T, int NR, bool SHIFTED, int CS = 1>
__attribute__((noinline)) void gemm_tile(const float* a, const float* b, ptrdiff_t ldb, const int32_t* offset,
                                         int kc, float* ct, bool accumulate, const float* bias, const float* res,
                                         bool relu, const TilePrefetch& next) {
  constexpr int NVA = kDensePanel / T::W;
  constexpr int VH = (NR + 1) * NVA + 1 <= T::kRegisters ? NVA : NVA / 2;
  static_assert(NVA % VH == 0, "passes must cover the panel");
#pragma GCC unroll 4
  for (int h = 0; h < NVA; h += VH) {
    const int off = h * T::W;
    gemm_pass<T, NR, VH, SHIFTED, CS>(a + off, b, ldb, offset, kc, ct + off, accumulate, bias ? bias + off : nullptr,
                                      res ? res + off : nullptr, relu, h == 0 ? next : TilePrefetch{});
  }
}

using GemmTileFn = void (*)(const float*, const float*, ptrdiff_t, const int32_t*, int, float*, bool, const float*,
                            const float*, bool, const TilePrefetch&);

// gemm_tile<T, 1..NR, SHIFTED, CS>, indexed by column count.
template <class T, int NR, bool SHIFTED, int CS>
struct GemmTiles {
  GemmTileFn fn[NR + 1];
  GemmTiles() { fill<NR>(); }
  template <int R>
  void fill() {
    fn[R] = &gemm_tile<T, R, SHIFTED, CS>;
    if constexpr (R > 1) fill<R - 1>();
  }
};

// After a panel's last k block, where the tiles could not (GELU): bias (per output, so per lane)
// and, without a residual, the activation, on the transposed tile of `columns` columns.
template <class T>
void finish_tile(float* ct, int columns, int n, int outputs, const Epilogue& ep) {
  constexpr int P = kDensePanel, NVA = P / T::W;
  typename T::V bias[NVA];
  for (int v = 0; v < NVA; ++v) {
    const int lanes = std::min(T::W, outputs - v * T::W);
    bias[v] = !ep.bias || lanes <= 0 ? T::zero() : T::load_n(ep.bias + n + v * T::W, lanes);
  }
  const Act act = ep.residual ? Act::kNone : ep.act;
  for (int j = 0; j < columns; ++j) {
    float* c = ct + j * P;
    for (int v = 0; v < NVA; ++v) {
      const auto x = T::add(T::load(c + v * T::W), bias[v]);
      T::store(c + v * T::W, act == Act::kNone ? x : activate<T>(x, act));
    }
  }
}

// The ISA's fused transpose-and-add (TRA) for ReLU or none; otherwise transpose, then a pass
// adding the residual and activating. Fused, dense ResNet-50 ran 1.4 % faster whole (49.8 -> 49.1
// ms on 2 threads, alternating in one process).
template <class T, TransposeFn TR, TransposeAddFn TRA>
void transpose_add_act(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                       const float* res, ptrdiff_t ldr, Act act) {
  if (act == Act::kNone || act == Act::kRelu) return TRA(src, rows, cols, lds, dst, ldd, res, ldr, act == Act::kRelu);
  TR(src, rows, cols, lds, dst, ldd);
  for (int c = 0; c < cols; ++c) add_activation<T>(dst + c * ldd, res + c * ldr, rows, act);
}

// Then `columns` of its columns go, transposed, to C's columns [j, j + columns) of the panel's
// `outputs` rows, a residual summed in and activated on the way.
template <class T, TransposeFn TR, TransposeAddFn TRA>
void store_tile(const float* ct, int columns, int n, int outputs, float* C, ptrdiff_t ldc, ptrdiff_t j,
                const Epilogue& ep) {
  float* rows = C + static_cast<ptrdiff_t>(n) * ldc + j;
  if (!ep.residual) return TR(ct, columns, outputs, kDensePanel, rows, ldc);
  transpose_add_act<T, TR, TRA>(ct, columns, outputs, kDensePanel, rows, ldc,
                                ep.residual + static_cast<ptrdiff_t>(n) * ep.ldr + j, ep.ldr, ep.act);
}

// Blocked output (kernels.h, ShiftedB): `columns` pixels of the tile to dst, one contiguous run of
// 32 floats each, the residual (same layout) summed in and the activation applied when there is
// one (without, the tile has its bias and activation already); lanes past `outputs` are zeroed so a
// blocked tensor's padding channels stay zero.
template <class T>
void store_tile_blocked(const float* ct, int columns, int outputs, float* dst, const float* res, Act act) {
  constexpr int P = kDensePanel;
  const ptrdiff_t n = static_cast<ptrdiff_t>(columns) * P;
  if (!res) {
    std::copy(ct, ct + n, dst);
  } else if (act == Act::kNone || act == Act::kRelu) {
    for (ptrdiff_t i = 0; i < n; i += T::W) {
      auto x = T::add(T::load(ct + i), T::load(res + i));
      T::store(dst + i, act == Act::kRelu ? T::max(x, T::zero()) : x);
    }
  } else {
    std::copy(ct, ct + n, dst);
    add_activation<T>(dst, res, n, act);
  }
  if (outputs < P)
    for (int c = 0; c < columns; ++c) std::fill(dst + c * P + outputs, dst + (c + 1) * P, 0.f);
}

// The panel's rows of C (to be written) and of the residual (to be read) are short runs a plane
// apart, which the hardware prefetchers miss: fetched while the panel's tiles compute, a 1x1 conv
// with a residual (ResNet-50, 64 -> 256 channels at 56x56) went from 57 to 80-85 GFLOP/s on one
// core.
// always_inline: prefetches have no side effects to GCC, so a separate function is found pure and
// its call deleted.
__attribute__((always_inline)) inline void prefetch_panel_rows(int n, int outputs, float* C, ptrdiff_t ldc,
                                                               ptrdiff_t j0, int columns, const Epilogue& ep) {
  for (int i = 0; i < outputs; ++i) {
    const float* c = C + static_cast<ptrdiff_t>(n + i) * ldc + j0;
    const float* r = ep.residual ? ep.residual + static_cast<ptrdiff_t>(n + i) * ep.ldr + j0 : nullptr;
    for (int j = 0; j < columns; j += kLineFloats) {
      __builtin_prefetch(c + j, 1);
      if (r) __builtin_prefetch(r + j, 0);
    }
  }
}

// Where a packed-dense product reads B and stores C: plain, B[k * ldb + j] and C[n * ldc + j];
// shifted (offset set), as ShiftedB in kernels.h describes.
struct DenseIo {
  const float* B;
  ptrdiff_t ldb;
  const int32_t* offset;
  int first, pitch, valid;
  bool blocked_out;
};

// Widest tile of a plain (not shifted) product, whose columns are one contiguous run: 12 (64
// columns as 5 x 12 + 4) measured 0-3 % faster than 14 (4 x 14 + 8) on BERT-base's dense linears.
constexpr int kPlainTile = 12;

// A register tile's place in a chunk of columns: virtual column j (within the chunk), the real
// output pixel q it starts at (shifted; the plain column otherwise) and its width.
struct TileSpan {
  int j, q, width;
};

// Splits the chunk's columns into register tiles of at most NR columns. Plain: NR-wide, the last
// what is left. Shifted: within each run of real pixels only, so no tile computes a row's padding
// columns (7-12 % of a 3x3 conv's columns at 14x14 and 7x7), each run split evenly (a row of 14
// pixels is one 14-wide tile, not 12 + 2). Returns the tile count.
template <int NR, bool SHIFTED>
int split_tiles(int columns, ptrdiff_t j0, const int (*runs)[3], int nruns, TileSpan* out) {
  int count = 0;
  if constexpr (!SHIFTED) {
    constexpr int W = NR < kPlainTile ? NR : kPlainTile;
    for (int j = 0; j < columns; j += W) out[count++] = {j, static_cast<int>(j0 + j), std::min(W, columns - j)};
    return count;
  }
  for (int r = 0; r < nruns; ++r) {
    const int len = runs[r][2], pieces = (len + NR - 1) / NR;
    for (int i = 0, done = 0; i < pieces; ++i) {
      const int width = len / pieces + (i < len % pieces);
      out[count++] = {runs[r][0] + done, runs[r][1] + done, width};
      done += width;
    }
  }
  return count;
}

// Rows [n0, n1) (n0 a multiple of 32) of C = A · B over m columns, in column tiles of 64.
template <class T, int NR, TransposeFn TR, TransposeAddFn TRA, bool SHIFTED, int CS>
void dense_panels(const DenseView& a, int n0, int n1, const DenseIo& io, float* C, ptrdiff_t ldc, int m,
                  const Epilogue& ep) {
  // Columns per scratch pass: the op layer's tasks are this wide already (kColumnTile in ops.h,
  // which the pure kernels do not include), so a task's scratch is one pass.
  constexpr int P = kDensePanel, kTile = 64;
  static const GemmTiles<T, NR, SHIFTED, CS> tiles;
  thread_local Scratch scratch;
  const int p0 = n0 / P, p1 = (n1 + P - 1) / P;
  const int kb = gemm_k_block(a.k);
  float* ct = scratch.floats(static_cast<size_t>(p1 - p0) * kTile * P);
  // A blocked output takes the tiles' stores directly, the residual summed in registers: no pass
  // over a scratch tile (not for GELU, nor for a panel with padding lanes, which must stay zero).
  const bool direct_ok = SHIFTED && io.blocked_out && (ep.act == Act::kNone || ep.act == Act::kRelu);
  for (int j0 = 0; j0 < m; j0 += kTile) {
    const int columns = std::min(kTile, m - j0);
    // Shifted: the tile's columns as runs within one output row, [virtual start, real start, length).
    int runs[kTile][3], nruns = 0;
    if constexpr (SHIFTED) {
      for (int j = 0; j < columns;) {
        const int v = io.first + j0 + j, row = v / io.pitch, col = v % io.pitch;
        const int len = std::min(columns - j, io.pitch - col);
        if (col < io.valid) {
          runs[nruns][0] = j;
          runs[nruns][1] = row * io.valid + col;
          runs[nruns][2] = std::min(len, io.valid - col);
          ++nruns;
        }
        j += len;
      }
    }
    TileSpan span[kTile];
    const int nspans = split_tiles<NR, SHIFTED>(columns, j0, runs, nruns, span);
    const ptrdiff_t first_real = !SHIFTED ? j0 : nruns ? runs[0][1] : 0;  // where a plain C's rows start
    // At least one k block, so k = 0 still stores act(bias).
    for (int k0 = 0; k0 == 0 || k0 < a.k; k0 += kb) {
      const int kc = std::min(a.k - k0, kb);
      const float* bk = SHIFTED ? io.B + static_cast<ptrdiff_t>(io.first + j0) * CS
                                : io.B + static_cast<ptrdiff_t>(k0) * io.ldb + j0;
      const int32_t* offset = SHIFTED ? io.offset + k0 : nullptr;
      for (int p = p0; p < p1; ++p) {
        const float* ap = a.a + (static_cast<ptrdiff_t>(p) * a.k + k0) * P;
        const int outputs = std::min(P, n1 - p * P);
        const bool direct = direct_ok && outputs == P;
        float* const scratch_tile = ct + static_cast<ptrdiff_t>(p - p0) * kTile * P;
        const bool last = k0 + kc >= a.k;
        // The last block's tiles add the bias and apply ReLU themselves; other activations (GELU)
        // take a pass over the tile after. (Dense ResNet-50: 0.8 % faster than a pass for all.)
        const bool in_tile = last && (ep.residual || ep.act == Act::kNone || ep.act == Act::kRelu);
        alignas(64) float bias[P];
        if (in_tile && ep.bias)
          for (int i = 0; i < P; ++i) bias[i] = i < outputs ? ep.bias[p * P + i] : 0.f;
        if (last && !io.blocked_out) prefetch_panel_rows(p * P, outputs, C, ldc, first_real, columns, ep);
        // Direct: tile t's pixels in C (and in the residual, laid out alike).
        const auto c_at = [&](int t) { return static_cast<ptrdiff_t>(p) * ldc + static_cast<ptrdiff_t>(span[t].q) * P; };
        for (int t = 0; t < nspans; ++t) {
          const TileSpan& s = span[t];
          const bool more = t + 1 < nspans;
          const bool fetch_out = last && direct && more;
          tiles.fn[s.width](
              ap, bk + s.j * CS, io.ldb, offset, kc, direct ? C + c_at(t) : scratch_tile + s.j * P, k0 > 0,
              in_tile && ep.bias ? bias : nullptr, last && direct && ep.residual ? ep.residual + c_at(t) : nullptr,
              in_tile && (!ep.residual || direct) && ep.act == Act::kRelu,
              TilePrefetch{CS > 1 && p == p0 && more ? bk + span[t + 1].j * CS : nullptr,
                           fetch_out && ep.residual ? ep.residual + c_at(t + 1) : nullptr,
                           fetch_out ? C + c_at(t + 1) : nullptr});
        }
        if (!last || direct) continue;
        if constexpr (SHIFTED) {
          for (int r = 0; r < nruns; ++r) {
            // Only the runs: the padding columns between them were never computed.
            if (!in_tile) finish_tile<T>(scratch_tile + runs[r][0] * P, runs[r][2], p * P, outputs, ep);
            if (io.blocked_out) {
              const ptrdiff_t at = static_cast<ptrdiff_t>(p) * ldc + static_cast<ptrdiff_t>(runs[r][1]) * P;
              store_tile_blocked<T>(scratch_tile + runs[r][0] * P, runs[r][2], outputs, C + at,
                                    ep.residual ? ep.residual + at : nullptr, ep.act);
            } else {
              store_tile<T, TR, TRA>(scratch_tile + runs[r][0] * P, runs[r][2], p * P, outputs, C, ldc, runs[r][1], ep);
            }
          }
        } else {
          if (!in_tile) finish_tile<T>(scratch_tile, columns, p * P, outputs, ep);
          store_tile<T, TR, TRA>(scratch_tile, columns, p * P, outputs, C, ldc, j0, ep);
        }
      }
    }
  }
}

// One column through weight panels: 32 outputs per k, a plain loop the ISA's flags vectorise.
inline void dense_panel_gemv(const DenseView& a, int n, const float* B, ptrdiff_t ldb, float out[kDensePanel]) {
  constexpr int P = kDensePanel;
  const float* panel = a.a + static_cast<ptrdiff_t>(n / P) * a.k * P;
  float s0[P] = {}, s1[P] = {};
  int k = 0;
  for (; k + 1 < a.k; k += 2) {
    const float x0 = B[k * ldb], x1 = B[(k + 1) * ldb];
    for (int i = 0; i < P; ++i) {
      s0[i] += panel[k * P + i] * x0;
      s1[i] += panel[(k + 1) * P + i] * x1;
    }
  }
  for (; k < a.k; ++k)
    for (int i = 0; i < P; ++i) s0[i] += panel[k * P + i] * B[k * ldb];
  for (int i = 0; i < P; ++i) out[i] = s0[i] + s1[i];
}

// ---- plain row-major A: 8 rows x NV vectors of columns --------------------------------------
// 8 row pointers, one float each per k; rows past n1 point at row n0 (valid memory, results
// discarded) so nothing reads out of bounds.

template <class T>
struct PlainBody : KernelArgs<DenseView> {
  static constexpr int R = 8;

  // noinline, full unrolls and stores unrolled over the tile's rows (as in CsrBody and
  // Bsr4x1Body): with a runtime row count indexing acc, GCC kept the accumulators in memory and
  // stored them on every k.
  template <int NV, bool TAIL>
  __attribute__((noinline)) void run(int j0, int tail) const {
    const int kb = gemm_k_block(a.k);
    const ptrdiff_t ld = ldb, ldc_ = ldc;
    for (int k0 = 0; k0 == 0 || k0 < a.k; k0 += kb) {
      const int k1 = std::min(a.k, k0 + kb);
      const bool first = k0 == 0, last = k1 == a.k;
      for (int n = n0; n < n1; n += R) {
        const int rows = std::min(R, n1 - n);
        const float* w_rows[R];
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) w_rows[i] = a.a + static_cast<ptrdiff_t>(i < rows ? n + i : n) * a.lda;
        typename T::V acc[R][NV];
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v)
            acc[i][v] = first || i >= rows ? T::zero() : load_chunk<T, NV, TAIL>(C + (n + i) * ldc_ + j0, v, tail);
        for (int k = k0; k < k1; ++k) {
          const float* b = B + static_cast<ptrdiff_t>(k) * ld + j0;
          typename T::V x[NV];
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) x[v] = load_chunk<T, NV, TAIL>(b, v, tail);
#pragma GCC unroll 8
          for (int i = 0; i < R; ++i) {
            const auto wi = T::set1(w_rows[i][k]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[i][v] = T::fmadd(wi, x[v], acc[i][v]);
          }
        }
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) {
          if (i >= rows) break;
          if (last)
            store_chunk<T, NV, TAIL>(C + (n + i) * ldc_ + j0, acc[i], ep, n + i, j0, tail);
          else
            store_vectors<T, NV, TAIL>(C + (n + i) * ldc_ + j0, acc[i], tail);
        }
      }
    }
  }
};

// NV: vectors of columns for plain A; NR: columns per packed-weight tile; TR: the ISA's transpose.
template <class T, int NV, int NR, TransposeFn TR, TransposeAddFn TRA>
void dense(const DenseView& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C, ptrdiff_t ldc, int m,
           const Epilogue& ep) {
  if (a.lda != 0) return for_each_chunk<T, NV>(m, PlainBody<T>{{a, n0, n1, B, ldb, C, ldc, ep}});
  if (m == 1) {
    for (int n = n0; n < n1; n += kDensePanel) {
      float out[kDensePanel];
      dense_panel_gemv(a, n, B, ldb, out);
      // One "panel" of sums: the epilogue W rows at a time, as the one-column CSR path stores.
      column_sum<T>(out, 0, 1, n, std::min(n + kDensePanel, n1), C, ldc, ep);
    }
    return;
  }
  dense_panels<T, NR, TR, TRA, false, 1>(a, n0, n1, DenseIo{B, ldb, nullptr, 0, 0, 0, false}, C, ldc, m, ep);
}

template <class T, int NR, TransposeFn TR, TransposeAddFn TRA>
void dense_shifted(const DenseView& a, int n0, int n1, const ShiftedB& B, float* C, ptrdiff_t ldc, int m,
                   const Epilogue& ep) {
  const DenseIo io{B.base, 0, B.offset, B.first, B.pitch, B.valid, B.blocked_out};
  if (B.column_stride == kChannelBlock)
    return dense_panels<T, NR, TR, TRA, true, kChannelBlock>(a, n0, n1, io, C, ldc, m, ep);
  dense_panels<T, NR, TR, TRA, true, 1>(a, n0, n1, io, C, ldc, m, ep);
}

}  // namespace
}  // namespace impl
}  // namespace sr
