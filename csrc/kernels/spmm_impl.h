// Microkernels written once over a vector-traits type T (vec_*.h) and instantiated per ISA in
// f32-spmm-<isa>.cc, each compiled with that ISA's flags only.
//
// Shape of every sparse kernel: for a chunk of m columns (NV vectors of T::W floats), walk the
// nonzeros of one output row (or block row), broadcast each weight and FMA it with the contiguous
// activation run B[k][j..j+NV*W). The chunk of B (K x NV*W floats) is reused across the rows of a
// call, so it stays in L1/L2 while the weights stream through once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sparse_runtime/formats.h"
#include "sparse_runtime/kernels.h"
#include "sparse_runtime/scratch.h"

namespace sr {
namespace impl {
// Internal linkage (unnamed namespace): each ISA's translation unit compiles these with its own
// flags, and inline functions that share a name across them (csr_dot, dense_panel_gemv)
// would otherwise be merged by the linker into one copy built for whichever ISA it picked.
namespace {

// ---- activations -------------------------------------------------------------------------

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), vectorised with T::exp.
template <class T>
inline typename T::V erf_approx(typename T::V x) {
  using V = typename T::V;
  const V z = T::abs(x);
  const V t = T::div(T::set1(1.f), T::fmadd(T::set1(0.3275911f), z, T::set1(1.f)));
  V p = T::set1(1.061405429f);
  p = T::fmadd(p, t, T::set1(-1.453152027f));
  p = T::fmadd(p, t, T::set1(1.421413741f));
  p = T::fmadd(p, t, T::set1(-0.284496736f));
  p = T::fmadd(p, t, T::set1(0.254829592f));
  p = T::mul(p, t);
  const V e = T::exp(T::sub(T::zero(), T::mul(z, z)));
  const V r = T::sub(T::set1(1.f), T::mul(p, e));
  return T::copysign(r, x);
}

template <class T>
inline typename T::V tanh_approx(typename T::V x) {
  using V = typename T::V;
  // tanh|x| = 1 - 2 / (exp(2|x|) + 1): no cancellation problem for the magnitudes GELU meets.
  const V e = T::exp(T::mul(T::set1(2.f), T::abs(x)));
  const V r = T::sub(T::set1(1.f), T::div(T::set1(2.f), T::add(e, T::set1(1.f))));
  return T::copysign(r, x);
}

template <class T>
inline typename T::V activate(typename T::V v, Act act) {
  switch (act) {
    case Act::kNone:
      return v;
    case Act::kRelu:
      return T::max(v, T::zero());
    case Act::kGeluErf: {
      const auto half_x = T::mul(T::set1(0.5f), v);
      const auto erf = erf_approx<T>(T::mul(v, T::set1(0.70710678118654752f)));
      return T::fmadd(half_x, erf, half_x);
    }
    case Act::kGeluTanh: {
      const auto x3 = T::mul(T::mul(v, v), v);
      const auto u = T::mul(T::set1(0.7978845608028654f), T::fmadd(T::set1(0.044715f), x3, v));
      const auto half_x = T::mul(T::set1(0.5f), v);
      return T::fmadd(half_x, tanh_approx<T>(u), half_x);
    }
  }
  return v;
}

// y = act(y + r) over a contiguous run (r may be null): the row-major side of a fused residual.
template <class T>
void add_activation(float* y, const float* r, ptrdiff_t count, Act act) {
  ptrdiff_t i = 0;
  for (; i + T::W <= count; i += T::W) {
    auto v = T::load(y + i);
    if (r) v = T::add(v, T::load(r + i));
    T::store(y + i, activate<T>(v, act));
  }
  if (i < count) {
    const int rest = static_cast<int>(count - i);
    auto v = T::load_n(y + i, rest);
    if (r) v = T::add(v, T::load_n(r + i, rest));
    T::store_n(y + i, activate<T>(v, act), rest);
  }
}

template <class T>
void activation(float* x, ptrdiff_t count, Act act) {
  if (act == Act::kNone) return;
  ptrdiff_t i = 0;
  for (; i + T::W <= count; i += T::W) T::store(x + i, activate<T>(T::load(x + i), act));
  if (i < count) {
    const int rest = static_cast<int>(count - i);
    T::store_n(x + i, activate<T>(T::load_n(x + i, rest), act), rest);
  }
}

// ---- shared helpers ----------------------------------------------------------------------

// Loads vector v of a chunk; only the last vector of a tail chunk is partial.
template <class T, int NV, bool TAIL>
inline typename T::V load_chunk(const float* p, int v, int tail) {
  if (TAIL && v == NV - 1) return T::load_n(p + v * T::W, tail);
  return T::load(p + v * T::W);
}

template <class T, int NV, bool TAIL>
inline void store_vectors(float* c, const typename T::V* x, int tail) {
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) {
    if (TAIL && v == NV - 1)
      T::store_n(c + v * T::W, x[v], tail);
    else
      T::store(c + v * T::W, x[v]);
  }
}

template <class T, int NV, bool TAIL, Act A>
inline void store_activated(float* c, typename T::V* x, int tail) {
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) x[v] = activate<T>(x[v], A);
  store_vectors<T, NV, TAIL>(c, x, tail);
}

// The activation is switched on once per row, outside the unrolled vector loops: with the switch
// inside them GCC kept the accumulators in memory (measured: 4 % of the CSR kernel).
template <class T, int NV, bool TAIL>
inline void store_chunk(float* c, const typename T::V* acc, const Epilogue& ep, int n, int j0, int tail) {
  typename T::V x[NV];
  const auto b = T::set1(ep.bias ? ep.bias[n] : 0.f);
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) x[v] = T::add(acc[v], b);
  if (ep.residual) {
    const float* r = ep.residual + n * ep.ldr + j0;
#pragma GCC unroll 16
    for (int v = 0; v < NV; ++v) x[v] = T::add(x[v], load_chunk<T, NV, TAIL>(r, v, tail));
  }
  switch (ep.act) {
    case Act::kNone:
      return store_vectors<T, NV, TAIL>(c, x, tail);
    case Act::kRelu:
      return store_activated<T, NV, TAIL, Act::kRelu>(c, x, tail);
    case Act::kGeluErf:
      return store_activated<T, NV, TAIL, Act::kGeluErf>(c, x, tail);
    case Act::kGeluTanh:
      return store_activated<T, NV, TAIL, Act::kGeluTanh>(c, x, tail);
  }
}

// See kernels.h, GatherShiftedFn.
template <class T>
void gather_shifted(const float* base, const int32_t* offset, int k, int m, float* dst, ptrdiff_t ldd) {
  const int full = m / T::W * T::W, tail = m - full;
  for (int r = 0; r < k; ++r, dst += ldd) {
    const float* src = base + offset[r];
    for (int j = 0; j < full; j += T::W) T::store(dst + j, T::load(src + j));
    if (tail) T::store_n(dst + full, T::load_n(src + full, tail), tail);
  }
}

// What every microkernel body reads: the packed weight's view, its row range, B, C and epilogue.
template <class View>
struct KernelArgs {
  const View& a;
  int n0, n1;
  const float* B;
  ptrdiff_t ldb;
  float* C;
  ptrdiff_t ldc;
  const Epilogue& ep;
};

// The last chunk: rest < NVMAX * W columns as ceil(rest / W) vectors, the last one masked when partial.
template <class T, int NV, class Body>
inline void rest_chunk(Body& body, int j, int rest) {
  if constexpr (NV > 1) {
    if (rest <= (NV - 1) * T::W) return rest_chunk<T, NV - 1>(body, j, rest);
  }
  const int tail = rest - (NV - 1) * T::W;
  if (tail == T::W)
    body.template run<NV, false>(j, T::W);
  else
    body.template run<NV, true>(j, tail);
}

// Calls body.template run<NV, TAIL>(j0, tail) over m columns: full chunks of NVMAX vectors, then
// the rest (fewer than NVMAX vectors, the last maybe partial) as one chunk, so every column sees
// one pass over the weights per chunk: 49 pixels are one pass of 4 vectors, not four of one.
// Keeps every kernel's column tiling identical.
template <class T, int NVMAX, class Body>
inline void for_each_chunk(int m, Body&& body) {
  constexpr int W = T::W;
  int j = 0;
  for (; j + NVMAX * W <= m; j += NVMAX * W) body.template run<NVMAX, false>(j, W);
  const int rest = m - j;
  if (rest > 0) rest_chunk<T, NVMAX>(body, j, rest);
}

// ---- CSR ----------------------------------------------------------------------------------

template <class T>
struct CsrBody : KernelArgs<CsrView> {
  // noinline: one function per tile shape, so the register allocator sees only this loop nest
  // (inlined into one body with the other shapes, GCC spilled the hot loop's pointers).
  template <int NV, bool TAIL>
  __attribute__((noinline)) void run(int j0, int tail) const {
    // Locals, not members, in the hot loop: stores through C would otherwise make GCC reload them.
    const float* const Bj = B + j0;
    const ptrdiff_t ld = ldb, ldc_ = ldc;
    float* const Cj = C + j0;
    const uint16_t* const col0 = a.col;
    const float* const val0 = a.val;
    const int rows = a.n, last = a.panels - 1, first_row = n0, end_row = n1;
    for (int pn = 0; pn <= last; ++pn) {
      const int32_t* ptr = a.panel_ptr + static_cast<ptrdiff_t>(pn) * (rows + 1);
      const float* const Bp = Bj + static_cast<ptrdiff_t>(pn) * a.kblock * ld;  // the panel's first k
      for (int n = first_row; n < end_row; ++n) {
        const uint16_t* col = col0 + ptr[n];
        const uint16_t* const col_end = col0 + ptr[n + 1];
        const float* val = val0 + ptr[n];
        if (col == col_end && pn != 0 && pn != last) continue;  // C already holds this row's sum
        float* c = Cj + n * ldc_;
        // Two accumulator sets over alternate nonzeros where the registers hold them (AVX-512's 4
        // vectors, and narrower tiles anywhere: twice the independent FMA chains). AVX2's one pass
        // of 8 vectors over a 64-column tile is 8 chains already, enough for two FMA pipes of 4
        // cycles' latency, and a second set would spill.
        constexpr bool kTwoSets = 2 * NV + 4 + (TAIL ? 1 : 0) <= T::kRegisters;  // + the tail's mask
        typename T::V acc[NV], acc2[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) {
          acc[v] = pn == 0 ? T::zero() : load_chunk<T, NV, TAIL>(c, v, tail);
          acc2[v] = T::zero();
        }
        // Odd nonzeros go to the second set, or to the first when there is one set only.
        const auto odd = [&](int v) -> typename T::V& {
          if constexpr (kTwoSets) return acc2[v]; else return acc[v];
        };
        for (; col + 3 < col_end; col += 4, val += 4) {
          const float* b0 = Bp + static_cast<ptrdiff_t>(col[0]) * ld;
          const float* b1 = Bp + static_cast<ptrdiff_t>(col[1]) * ld;
          const float* b2 = Bp + static_cast<ptrdiff_t>(col[2]) * ld;
          const float* b3 = Bp + static_cast<ptrdiff_t>(col[3]) * ld;
          const auto w0 = T::set1(val[0]);
          const auto w1 = T::set1(val[1]);
          const auto w2 = T::set1(val[2]);
          const auto w3 = T::set1(val[3]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] = T::fmadd(w0, load_chunk<T, NV, TAIL>(b0, v, tail), acc[v]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) odd(v) = T::fmadd(w1, load_chunk<T, NV, TAIL>(b1, v, tail), odd(v));
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] = T::fmadd(w2, load_chunk<T, NV, TAIL>(b2, v, tail), acc[v]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) odd(v) = T::fmadd(w3, load_chunk<T, NV, TAIL>(b3, v, tail), odd(v));
        }
        for (; col + 1 < col_end; col += 2, val += 2) {
          const float* b0 = Bp + static_cast<ptrdiff_t>(col[0]) * ld;
          const float* b1 = Bp + static_cast<ptrdiff_t>(col[1]) * ld;
          const auto w0 = T::set1(val[0]);
          const auto w1 = T::set1(val[1]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] = T::fmadd(w0, load_chunk<T, NV, TAIL>(b0, v, tail), acc[v]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) odd(v) = T::fmadd(w1, load_chunk<T, NV, TAIL>(b1, v, tail), odd(v));
        }
        if (col < col_end) {
          const float* b0 = Bp + static_cast<ptrdiff_t>(col[0]) * ld;
          const auto w0 = T::set1(val[0]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] = T::fmadd(w0, load_chunk<T, NV, TAIL>(b0, v, tail), acc[v]);
        }
        if constexpr (kTwoSets) {
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) acc[v] = T::add(acc[v], acc2[v]);
        }
        if (pn == last)
          store_chunk<T, NV, TAIL>(c, acc, ep, n, j0, tail);
        else
          store_vectors<T, NV, TAIL>(c, acc, tail);
      }
    }
  }
};

// Nonzeros [p, end) of one row dotted with B's column: four independent sums (the portable path).
__attribute__((optimize("no-tree-vectorize")))  // see csr_panel_dots
inline float csr_dot(const float* val, const uint16_t* col, int p, int end, const float* B, ptrdiff_t ldb) {
  float s[4] = {0.f, 0.f, 0.f, 0.f};
  for (; p + 3 < end; p += 4)
    for (int q = 0; q < 4; ++q) s[q] += val[p + q] * B[static_cast<ptrdiff_t>(col[p + q]) * ldb];
  for (; p < end; ++p) s[0] += val[p] * B[static_cast<ptrdiff_t>(col[p]) * ldb];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Rows per block of csr_panel_dots: the block's products (~1.2 K floats at 90 % and a 192-deep
// panel) stay in L1 between its two passes.
constexpr int kDotRows = 64;

// g[i] = x[col[i]] * val[i] for i < count: with S > 0 from a table of 32 * S floats in
// registers (T::table_products), else one scalar load each. No software prefetch: a task's weight is
// one contiguous run (spmm.cc, column_by_panels), which the hardware prefetcher follows;
// prefetching 2 K nonzeros ahead measured 0.87x on BERT-base's 48 layers, and the next block's
// nonzeros during this one's pass 2 0.81-0.92x on one thread.
template <class T, int S>
__attribute__((always_inline)) inline void gather_products(const uint16_t* col, const float* val, int32_t count,
                                                           const float* x, float* g) {
  if constexpr (S > 0) {
    T::template table_products<S>(x, col, val, count, g);
  } else {
    int32_t i = 0;
    for (; i + 15 < count; i += 16) {
#pragma GCC unroll 16
      for (int u = 0; u < 16; ++u) g[i + u] = x[col[i + u]] * val[i + u];
    }
    for (; i < count; ++i) g[i] = x[col[i]] * val[i];
  }
}

// Pass 2, one group of `rows` <= W rows from n0: the sums of their products g (the block's
// nonzeros from `base` on) into out[0, rows), each row as `vectors` masked vectors (VECTORS when
// fixed at compile time, 0: the run-time count), reduced together by T::lane_sums (1.65x against
// one reduce_add per row, harness). A group of fewer than W rows repeats its last row in the
// unused lanes, which the masked store drops. Each row's sum has one order (see lane_sums).
template <class T, int VECTORS, bool FULL>
__attribute__((always_inline)) inline void group_row_sums(const int32_t* ptr, int n0, int rows, const float* g,
                                                          int32_t base, int vectors, float* out, bool accumulate) {
  const int count = VECTORS > 0 ? VECTORS : vectors;
  typename T::V acc[T::W];
#pragma GCC unroll 16
  for (int j = 0; j < T::W; ++j) {
    const int n = n0 + (FULL ? j : std::min(j, rows - 1));
    const int32_t first = ptr[n];
    const int len = ptr[n + 1] - first;
    const float* row = g + (first - base);
    acc[j] = T::load_first(row, len);
#pragma GCC unroll 4
    for (int c = 1; c < count; ++c) acc[j] = T::add(acc[j], T::load_first(row + c * T::W, len, c * T::W));
  }
  auto sums = T::lane_sums(acc);
  if (accumulate) sums = T::add(T::load_n(out, rows), sums);
  T::store_n(out, sums, rows);
}

// group_row_sums for a whole group of W rows or a last, shorter one.
template <class T, int VECTORS>
__attribute__((always_inline)) inline void group_row_sums(const int32_t* ptr, int n0, int rows, const float* g,
                                                          int32_t base, int vectors, float* out, bool accumulate) {
  if (rows == T::W)
    group_row_sums<T, VECTORS, true>(ptr, n0, rows, g, base, vectors, out, accumulate);
  else
    group_row_sums<T, VECTORS, false>(ptr, n0, rows, g, base, vectors, out, accumulate);
}

// Pass 2 of a block: rows [r0, r1) into dots[n - r0], by groups of W rows, each group taking as
// many vectors per row as its longest row needs: a dense row among sparse ones (structured
// patterns, or magnitude pruning's uneven rows) costs its group, not the whole block.
template <class T>
__attribute__((always_inline)) inline void block_row_sums(const int32_t* ptr, int r0, int r1, const float* g,
                                                          int32_t base, float* dots, bool accumulate) {
  for (int n0 = r0; n0 < r1; n0 += T::W) {
    const int rows = std::min(T::W, r1 - n0);
    int longest = 0;
    for (int n = n0; n < n0 + rows; ++n) longest = std::max(longest, ptr[n + 1] - ptr[n]);
    const int vectors = (longest + T::W - 1) / T::W;
    float* const out = dots + (n0 - r0);
    switch (vectors) {  // 1-3 cover rows of up to 48 nonzeros per panel: 90 % at kblock 192-256
      case 1: group_row_sums<T, 1>(ptr, n0, rows, g, base, vectors, out, accumulate); break;
      case 2: group_row_sums<T, 2>(ptr, n0, rows, g, base, vectors, out, accumulate); break;
      case 3: group_row_sums<T, 3>(ptr, n0, rows, g, base, vectors, out, accumulate); break;
      default: group_row_sums<T, 0>(ptr, n0, rows, g, base, vectors, out, accumulate); break;
    }
  }
}

// csr_panel_dots' two passes over blocks of kDotRows rows, xs the panel's slice of x (index col),
// held as a register table of S segments when S > 0; each block's products in `products`.
template <class T, int S>
__attribute__((optimize("no-tree-vectorize"))) void panel_dots_by_blocks(const int32_t* ptr, const float* val,
                                                                         const uint16_t* col, int n0, int n1,
                                                                         const float* xs, Scratch& products,
                                                                         float* dots, bool accumulate) {
  for (int r0 = n0; r0 < n1; r0 += kDotRows) {
    const int r1 = std::min(n1, r0 + kDotRows);
    const int32_t base = ptr[r0], end = ptr[r1];
    float* const g = products.floats(static_cast<size_t>(end - base));
    gather_products<T, S>(col + base, val + base, end - base, xs, g);
    block_row_sums<T>(ptr, r0, r1, g, base, dots + (r0 - n0), accumulate);
  }
}

// panel_dots_by_blocks<T, S> for the table of `segments` (the scalar gather, S = 0, past
// T::kTableSegments): one instantiation per table depth, as the table lives in registers.
template <class T, int S = T::kTableSegments>
void panel_dots_by_depth(int segments, const int32_t* ptr, const float* val, const uint16_t* col, int n0, int n1,
                         const float* xs, Scratch& products, float* dots, bool accumulate) {
  if constexpr (S > 0) {
    if (segments != S)
      return panel_dots_by_depth<T, S - 1>(segments, ptr, val, col, n0, n1, xs, products, dots, accumulate);
  }
  panel_dots_by_blocks<T, S>(ptr, val, col, n0, n1, xs, products, dots, accumulate);
}

// One column (a single token or pixel, GEMV-like): the dots of rows [n0, n1) with x over panel pn
// of a, into dots[n - n0] (added to what is there when `accumulate`). Memory bound on the packed
// weight once the loop keeps up, so nothing in the hot loops depends on where a row ends: per
// block of rows, first x[col] * val for the block's nonzeros in storage order (one long loop),
// then each row's sum of those as vectors, every row of a group of W taking as many vectors as
// the group's longest (masked loads: the lanes past a row's end are zeros), the W reduced at once.
// Row by row, a scalar walk mispredicted at every row's end (a row has ~19 nonzeros in a 192-deep panel
// at 90 %): 9 GB/s of weight on one core; these two passes with scalar gathers and a reduce_add per
// row ~15 (2 cycles per nonzero); with the register table (AVX-512, panels up to 256 deep) and W
// rows per reduction ~1.2 cycles per nonzero (C++ harness, one core, L3-resident weight: pass 1
// ~0.8, pass 2 ~0.45). The result depends only on the row's nonzeros, not on how rows are split
// into tasks or blocks, nor on which lookup ran.
// no-tree-vectorize: GCC 12 turned the scalar loops into 512-bit index loads taken apart lane by
// lane through the stack (3-7 % slower). noinline: csr_gemv calls it directly (the panel tasks
// through the kernel table); inlined there, GCC laid the walk out differently and one thread ran
// 1.2x slower.
template <class T>
__attribute__((noinline, optimize("no-tree-vectorize"))) void csr_panel_dots(const CsrView& a, int pn, int n0,
                                                                             int n1, const float* x, ptrdiff_t ldx,
                                                                             float* dots, bool accumulate) {
  const int32_t* ptr = a.panel_ptr + static_cast<ptrdiff_t>(pn) * (a.n + 1);
  const float* const val = a.val;
  const uint16_t* const col = a.col;
  if constexpr (T::W == 1) {
    const float* const xp = x + static_cast<ptrdiff_t>(pn) * a.kblock * ldx;  // the panel's first k
    for (int n = n0; n < n1; ++n) {
      const float s = csr_dot(val, col, ptr[n], ptr[n + 1], xp, ldx);
      dots[n - n0] = accumulate ? dots[n - n0] + s : s;
    }
    return;
  } else {
    // The panel's slice of x, k in [k0, k0 + kblock), read in place when contiguous and too deep
    // for the register table; else copied: zero-padded to whole segments for the table (whose
    // registers load all of them), and always from a strided column (token tiles 64 floats apart,
    // or the last column of a wider B in csr_gemv), where each nonzero's load would otherwise be
    // its own cache line from a column spanning 0.2-0.8 MB (k = 768-3072).
    thread_local Scratch products;
    const int k0 = pn * a.kblock, kn = std::min(a.k, k0 + a.kblock) - k0;
    const int segments = (kn + 31) / 32;
    const bool table = segments > 0 && segments <= T::kTableSegments;
    if (!table && ldx == 1)
      return panel_dots_by_blocks<T, 0>(ptr, val, col, n0, n1, x + k0, products, dots, accumulate);
    thread_local Scratch slice_buf;
    const int padded = table ? 32 * segments : kn;
    float* const slice = slice_buf.floats(static_cast<size_t>(padded));
    if (ldx == 1) {
      std::copy_n(x + k0, kn, slice);
    } else {
      for (int i = 0; i < kn; ++i) slice[i] = x[static_cast<ptrdiff_t>(k0 + i) * ldx];
    }
    std::fill(slice + kn, slice + padded, 0.f);
    panel_dots_by_depth<T>(table ? segments : 0, ptr, val, col, n0, n1, slice, products, dots, accumulate);
  }
}

// Sums `panels` rows of per-panel dots (row p at partial + p * ldp, indexed by n - n0) in panel
// order and stores rows [n0, n1) of C (row stride ldc) with the epilogue, W rows at a time: bias,
// residual and activation as vectors whatever the strides, a strided residual or C going through
// a W-float buffer. Row by row, a column of token tiles (ldc = 64) with GELU cost a one-token
// 3072 x 768 layer 13 of its 65 us.
template <class T>
void column_sum(const float* partial, ptrdiff_t ldp, int panels, int n0, int n1, float* C, ptrdiff_t ldc,
                const Epilogue& ep) {
  alignas(64) float lanes[T::W];
  for (int n = n0; n < n1; n += T::W) {
    const int w = std::min(T::W, n1 - n);
    const float* const sums = partial + (n - n0);
    auto s = T::load_n(sums, w);
    for (int p = 1; p < panels; ++p) s = T::add(s, T::load_n(sums + p * ldp, w));
    if (ep.bias) s = T::add(s, T::load_n(ep.bias + n, w));
    if (ep.residual && ep.ldr == 1) s = T::add(s, T::load_n(ep.residual + n, w));
    if (ep.residual && ep.ldr != 1) {
      for (int i = 0; i < w; ++i) lanes[i] = ep.residual[(n + i) * ep.ldr];
      s = T::add(s, T::load_n(lanes, w));
    }
    s = activate<T>(s, ep.act);
    if (ldc == 1) {
      T::store_n(C + n, s, w);
    } else {
      T::store(lanes, s);
      for (int i = 0; i < w; ++i) C[(n + i) * ldc] = lanes[i];
    }
  }
}

// One column over rows [n0, n1), all panels (a task of rows, or one thread's whole product).
template <class T>
void csr_gemv(const CsrView& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C, ptrdiff_t ldc,
              const Epilogue& ep) {
  thread_local Scratch sums;
  float* y = sums.floats(static_cast<size_t>(n1 - n0));
  for (int pn = 0; pn < a.panels; ++pn) csr_panel_dots<T>(a, pn, n0, n1, B, ldb, y, pn != 0);
  column_sum<T>(y, 0, 1, n0, n1, C, ldc, ep);
}

template <class T, int NVMAX>
void csr(const CsrView& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C, ptrdiff_t ldc,
         int m, const Epilogue& ep) {
  if (m == 1) return csr_gemv<T>(a, n0, n1, B, ldb, C, ldc, ep);
  for_each_chunk<T, NVMAX>(m, CsrBody<T>{{a, n0, n1, B, ldb, C, ldc, ep}});
}

// ---- BSR 4x1: one activation load feeds four outputs ---------------------------------------

template <class T>
struct Bsr4x1Body : KernelArgs<Bsr4x1View> {
  // noinline, locals and full unrolls as in CsrBody: GCC kept the 16 accumulators of the
  // masked-tail variant in memory, storing them every block (3x slower at 49 or 55 columns).
  template <int NV, bool TAIL>
  __attribute__((noinline)) void run(int j0, int tail) const {
    // 4 x NV accumulators, the four weights broadcast once per block and one activation vector;
    // where that overflows the registers (AVX2 at NV = 3: 17 of 16, and GCC kept an accumulator
    // in memory) the NV activation vectors stay loaded and the weights come one at a time. A
    // shape that fits neither (AVX2's NV = 3 with a masked last vector) runs as two narrower ones.
    constexpr int kMask = TAIL ? 1 : 0;
    constexpr bool kWeightsHeld = kBsrRows * NV + kBsrRows + 1 + kMask <= T::kRegisters;
    if constexpr (!kWeightsHeld && kBsrRows * NV + NV + 1 + kMask > T::kRegisters) {
      run<NV - 1, false>(j0, T::W);
      return run<1, TAIL>(j0 + (NV - 1) * T::W, tail);
    }
    const float* const Bj = B + j0;
    const ptrdiff_t ld = ldb, ldc_ = ldc;
    float* const Cj = C + j0;
    const int32_t* const blk_ptr = a.blk_ptr;
    const int32_t* const blk_col = a.blk_col;
    const float* const val = a.val;
    const int first_row = n0, end_row = n1;
    for (int n = first_row; n < end_row; n += kBsrRows) {
      const int r = n / kBsrRows;
      typename T::V acc[kBsrRows][NV];
#pragma GCC unroll 4
      for (int i = 0; i < kBsrRows; ++i)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[i][v] = T::zero();
      const int end = blk_ptr[r + 1];
      for (int p = blk_ptr[r]; p < end; ++p) {
        const float* w = val + static_cast<ptrdiff_t>(p) * kBsrRows;
        const float* b = Bj + static_cast<ptrdiff_t>(blk_col[p]) * ld;
        if constexpr (kWeightsHeld) {
          const auto w0 = T::set1(w[0]), w1 = T::set1(w[1]), w2 = T::set1(w[2]), w3 = T::set1(w[3]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) {
            const auto x = load_chunk<T, NV, TAIL>(b, v, tail);
            acc[0][v] = T::fmadd(w0, x, acc[0][v]);
            acc[1][v] = T::fmadd(w1, x, acc[1][v]);
            acc[2][v] = T::fmadd(w2, x, acc[2][v]);
            acc[3][v] = T::fmadd(w3, x, acc[3][v]);
          }
        } else {  // the activations held instead, one weight broadcast at a time
          typename T::V x[NV];
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v) x[v] = load_chunk<T, NV, TAIL>(b, v, tail);
#pragma GCC unroll 4
          for (int i = 0; i < kBsrRows; ++i) {
            const auto wi = T::set1(w[i]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[i][v] = T::fmadd(wi, x[v], acc[i][v]);
          }
        }
      }
      // Unrolled, so each acc[i] is a fixed register set (a runtime index put them in memory).
#pragma GCC unroll 4
      for (int i = 0; i < kBsrRows; ++i)
        if (n + i < end_row) store_chunk<T, NV, TAIL>(Cj + (n + i) * ldc_, acc[i], ep, n + i, j0, tail);
    }
  }
};

template <class T, int NVMAX>
void bsr4x1(const Bsr4x1View& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
            ptrdiff_t ldc, int m, const Epilogue& ep) {
  for_each_chunk<T, NVMAX>(m, Bsr4x1Body<T>{{a, n0, n1, B, ldb, C, ldc, ep}});
}

// ---- BSR 1x4: one index per four consecutive k --------------------------------------------

template <class T>
struct Bsr1x4Body : KernelArgs<Bsr1x4View> {
  template <int NV, bool TAIL>
  __attribute__((noinline)) void run(int j0, int tail) const {  // see CsrBody
    for (int n = n0; n < n1; ++n) {
      typename T::V acc[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[v] = T::zero();
      const int end = a.row_ptr[n + 1];
      for (int p = a.row_ptr[n]; p < end; ++p) {
        const float* w = a.val + static_cast<ptrdiff_t>(p) * 4;
        const float* b = B + static_cast<ptrdiff_t>(a.blk_col[p]) * ldb + j0;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          const auto wq = T::set1(w[q]);
#pragma GCC unroll 16
          for (int v = 0; v < NV; ++v)
            acc[v] = T::fmadd(wq, load_chunk<T, NV, TAIL>(b + q * ldb, v, tail), acc[v]);
        }
      }
      store_chunk<T, NV, TAIL>(C + n * ldc + j0, acc, ep, n, j0, tail);
    }
  }
};

template <class T, int NVMAX>
void bsr1x4(const Bsr1x4View& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
            ptrdiff_t ldc, int m, const Epilogue& ep) {
  for_each_chunk<T, NVMAX>(m, Bsr1x4Body<T>{{a, n0, n1, B, ldb, C, ldc, ep}});
}

// ---- N:M 2:4: two values per group of four k, offsets in a byte -----------------------------

template <class T>
struct Nm24Body : KernelArgs<Nm24View> {
  template <int NV, bool TAIL>
  __attribute__((noinline)) void run(int j0, int tail) const {  // see CsrBody
    const int half = a.k / 2;
    for (int n = n0; n < n1; ++n) {
      typename T::V acc[NV];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) acc[v] = T::zero();
      const float* w = a.val + static_cast<ptrdiff_t>(n) * half;
      const uint8_t* id = a.idx + static_cast<ptrdiff_t>(n) * half;
      for (int p = 0; p < half; ++p) {
        const int k = (p >> 1) * 4 + id[p];
        const auto wp = T::set1(w[p]);
        const float* b = B + static_cast<ptrdiff_t>(k) * ldb + j0;
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[v] = T::fmadd(wp, load_chunk<T, NV, TAIL>(b, v, tail), acc[v]);
      }
      store_chunk<T, NV, TAIL>(C + n * ldc + j0, acc, ep, n, j0, tail);
    }
  }
};

template <class T, int NVMAX>
void nm24(const Nm24View& a, int n0, int n1, const float* B, ptrdiff_t ldb, float* C,
          ptrdiff_t ldc, int m, const Epilogue& ep) {
  for_each_chunk<T, NVMAX>(m, Nm24Body<T>{{a, n0, n1, B, ldb, C, ldc, ep}});
}

}  // namespace
}  // namespace impl
}  // namespace sr
