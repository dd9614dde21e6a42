// Block transpose in 8x8 AVX tiles (built with -mavx2; used by the AVX2 and AVX-512 levels):
// 8 loads, 24 shuffles and 8 stores per 64 floats instead of 64 scalar moves.
#include <immintrin.h>

#include "sparse_runtime/kernels.h"
#include "transpose_order.h"

namespace sr {
namespace {

// The 8x8 block src (rows lds apart) transposed into out[0..8).
inline void transpose8x8_regs(const float* src, ptrdiff_t lds, __m256 out[8]) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
    out[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
  }
}

inline void transpose8x8(const float* src, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  __m256 t[8];
  transpose8x8_regs(src, lds, t);
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ldd, t[i]);
}

template <bool RELU>
inline void transpose8x8_add(const float* src, ptrdiff_t lds, float* dst, ptrdiff_t ldd, const float* res,
                             ptrdiff_t ldr) {
  __m256 t[8];
  transpose8x8_regs(src, lds, t);
  for (int i = 0; i < 8; ++i) {
    __m256 y = _mm256_add_ps(t[i], _mm256_loadu_ps(res + i * ldr));
    if (RELU) y = _mm256_max_ps(y, _mm256_setzero_ps());
    _mm256_storeu_ps(dst + i * ldd, y);
  }
}

template <bool RELU>
void transpose_add_blocks(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                          const float* res, ptrdiff_t ldr) {
  const int r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  impl::for_each_block<8>(r8, c8, lds, ldd, [&](int r, int c) {
    transpose8x8_add<RELU>(src + r * lds + c, lds, dst + c * ldd + r, ldd, res + c * ldr + r, ldr);
  });
  auto one = [&](int r, int c) {
    const float y = src[r * lds + c] + res[c * ldr + r];
    dst[c * ldd + r] = RELU && !(y > 0.f) ? 0.f : y;  // as _mm256_max_ps(y, 0): NaN -> 0
  };
  for (int c = c8; c < cols; ++c)
    for (int r = 0; r < rows; ++r) one(r, c);
  for (int c = 0; c < c8; ++c)
    for (int r = r8; r < rows; ++r) one(r, c);
}

}  // namespace

void transpose_avx(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  const int r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  impl::for_each_block<8>(r8, c8, lds, ldd,
                 [&](int r, int c) { transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd); });
  // Ragged edges: a right strip and a bottom strip.
  for (int c = c8; c < cols; ++c)
    for (int r = 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
  for (int c = 0; c < c8; ++c)
    for (int r = r8; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
}

void transpose_add_avx(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                       const float* res, ptrdiff_t ldr, bool relu) {
  if (relu)
    transpose_add_blocks<true>(src, rows, cols, lds, dst, ldd, res, ldr);
  else
    transpose_add_blocks<false>(src, rows, cols, lds, dst, ldd, res, ldr);
}

}  // namespace sr
