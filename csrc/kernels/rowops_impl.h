// Row-wise softmax and layer normalisation over T's vectors: the non-matmul work of a
// transformer that, at 90 % weight sparsity, is a large share of a run. Also max pooling's passes.
// Whole vectors go through T; the last cols % W elements of a row are done one by one.
#pragma once
#include <cmath>

#include "spmm_impl.h"

namespace sr {
namespace impl {
// Internal linkage: see spmm_impl.h.
namespace {

// y = softmax(scale * x + mask) per row; mask (one row per row, stride ldm) may be null. x and y
// may alias: attention runs it in place on its score tile.
template <class T>
void softmax(const float* x, ptrdiff_t ldx, float* y, ptrdiff_t ldy, const float* mask, ptrdiff_t ldm,
             float scale, int rows, int cols) {
  using V = typename T::V;
  const int full = cols / T::W * T::W;
  const V vscale = T::set1(scale);
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    const float* mr = mask ? mask + r * ldm : nullptr;
    // Pass 1: the logits, stored, and their maximum.
    V vm = T::set1(-INFINITY);
    for (int j = 0; j < full; j += T::W) {
      V v = T::mul(T::load(xr + j), vscale);
      if (mr) v = T::add(v, T::load(mr + j));
      T::store(yr + j, v);
      vm = T::max(vm, v);
    }
    float mx = T::reduce_max(vm);
    for (int j = full; j < cols; ++j) {
      yr[j] = xr[j] * scale + (mr ? mr[j] : 0.f);
      mx = std::fmax(mx, yr[j]);
    }
    const V vmax = T::set1(mx);
    V vsum = T::zero();
    for (int j = 0; j < full; j += T::W) {
      const V e = T::exp(T::sub(T::load(yr + j), vmax));
      T::store(yr + j, e);
      vsum = T::add(vsum, e);
    }
    float sum = T::reduce_add(vsum);
    for (int j = full; j < cols; ++j) sum += (yr[j] = std::exp(yr[j] - mx));
    const float inv = 1.f / sum;
    const V vinv = T::set1(inv);
    for (int j = 0; j < full; j += T::W) T::store(yr + j, T::mul(T::load(yr + j), vinv));
    for (int j = full; j < cols; ++j) yr[j] *= inv;
  }
}

template <class T>
void layernorm(const float* x, float* y, int rows, int cols, const float* gamma, const float* beta, float eps) {
  using V = typename T::V;
  const int full = cols / T::W * T::W;
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<ptrdiff_t>(r) * cols;
    float* yr = y + static_cast<ptrdiff_t>(r) * cols;
    // Two passes (mean, then squared deviations) rather than E[x²]-E[x]²: no cancellation.
    V acc = T::zero();
    for (int j = 0; j < full; j += T::W) acc = T::add(acc, T::load(xr + j));
    float sum = T::reduce_add(acc);
    for (int j = full; j < cols; ++j) sum += xr[j];
    const float mean = sum / cols;
    const V vmean = T::set1(mean);
    acc = T::zero();
    for (int j = 0; j < full; j += T::W) {
      const V d = T::sub(T::load(xr + j), vmean);
      acc = T::fmadd(d, d, acc);
    }
    float sq = T::reduce_add(acc);
    for (int j = full; j < cols; ++j) sq += (xr[j] - mean) * (xr[j] - mean);
    const float inv = 1.f / std::sqrt(sq / cols + eps);
    const V vinv = T::set1(inv);
    for (int j = 0; j < full; j += T::W) {
      V v = T::mul(T::sub(T::load(xr + j), vmean), vinv);
      if (gamma) v = T::mul(v, T::load(gamma + j));
      if (beta) v = T::add(v, T::load(beta + j));
      T::store(yr + j, v);
    }
    for (int j = full; j < cols; ++j) {
      float v = (xr[j] - mean) * inv;
      if (gamma) v *= gamma[j];
      if (beta) v += beta[j];
      yr[j] = v;
    }
  }
}

// The machine's FMA peak for this ISA, measured rather than taken from a data sheet: 12 chains
// cover FMA latency x throughput on current x86 cores (4 cycles x 2 pipes, with room to spare).
template <class T>
float fma_probe(int64_t iterations) {
  using V = typename T::V;
  constexpr int kChains = 12;
  V acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = T::set1(1e-3f * static_cast<float>(i));
  const V a = T::set1(0.9999f), b = T::set1(1e-4f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = T::fmadd(acc[i], a, b);
  }
  V sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = T::add(sum, acc[i]);
  return T::reduce_add(sum);
}

// ---- max pooling's passes (csrc/ops/pool.cc) ----------------------------------------------

// max that keeps a NaN once either side has one (numpy's maximum); here, not VecScalar's, so
// this translation unit's copy keeps internal linkage.
inline float nan_max1(float best, float v) { return v > best ? v : (v != v ? v : best); }

// m[i] = max(m[i], r[i]), a NaN kept once either side has one (as numpy's maximum).
template <class T>
void max_into(float* m, const float* r, ptrdiff_t n) {
  ptrdiff_t i = 0;
  for (; i + T::W <= n; i += T::W) T::store(m + i, T::nan_max(T::load(m + i), T::load(r + i)));
  for (; i < n; ++i) m[i] = nan_max1(m[i], r[i]);
}

// o[ow] = max over taps j of row[ow * stride + j * dilation], tap by tap over the output row. A
// compile-time stride (1 or 2, the usual ones; 0 = read `stride`) lets the compiler vectorise the
// strided reads with this ISA's permutes (a scalar loop per output took 10 ns per output of a 3x3
// stride-2 pool).
template <int SW>
void max_columns_plane(const float* row, float* o, int out_w, int kernel_w, int dilation, int stride) {
  const int sw = SW ? SW : stride;
  for (int ow = 0; ow < out_w; ++ow) o[ow] = row[ow * sw];
  for (int j = 1; j < kernel_w; ++j) {
    const float* tap = row + j * dilation;
    for (int ow = 0; ow < out_w; ++ow) o[ow] = nan_max1(o[ow], tap[ow * sw]);
  }
}

// Stride 2 over a plane's row, T::W outputs at a time, the last vector partial: each tap is the
// even lanes of 2 * T::W contiguous floats (GCC left the strided loop above scalar: ResNet-50's
// 3x3 stride-2 pool over 112x112x64 took 2.8x ONNX Runtime's). Reads up to 2 * T::W floats past
// the last tap (pool.cc leaves that much slack).
template <class T>
void max_columns_stride2(const float* row, float* o, int out_w, int kernel_w, int dilation) {
  for (int ow = 0; ow < out_w; ow += T::W) {
    const float* c = row + 2 * ow;
    auto x = T::even(T::load(c), T::load(c + T::W));
    for (int j = 1; j < kernel_w; ++j) {
      const float* tap = c + j * dilation;
      x = T::nan_max(x, T::even(T::load(tap), T::load(tap + T::W)));
    }
    if (ow + T::W <= out_w)
      T::store(o + ow, x);
    else
      T::store_n(o + ow, x, out_w - ow);
  }
}

// Per output pixel, the max over its kernel_w taps of a row of `lanes`-float pixels: 1 (a
// plane's row), or a multiple of T::W (a blocked row, whole vectors per pixel).
template <class T>
void max_columns(const float* row, float* o, int out_w, int kernel_w, int stride, int dilation, int lanes) {
  if (lanes == 1) {
    if (stride == 2) return max_columns_stride2<T>(row, o, out_w, kernel_w, dilation);
    if (stride == 1) return max_columns_plane<1>(row, o, out_w, kernel_w, dilation, 1);
    return max_columns_plane<0>(row, o, out_w, kernel_w, dilation, stride);
  }
  const ptrdiff_t step = static_cast<ptrdiff_t>(stride) * lanes, tap = static_cast<ptrdiff_t>(dilation) * lanes;
  for (int ow = 0; ow < out_w; ++ow, o += lanes) {
    const float* c = row + ow * step;
    for (int l = 0; l < lanes; l += T::W) {
      auto x = T::load(c + l);
      for (int j = 1; j < kernel_w; ++j) x = T::nan_max(x, T::load(c + j * tap + l));
      T::store(o + l, x);
    }
  }
}

}  // namespace
}  // namespace impl
}  // namespace sr
