// Portable block transpose (no ISA flags), in the loop order of the AVX one (transpose_order.h).
#include "sparse_runtime/kernels.h"
#include "transpose_order.h"

namespace sr {

void transpose_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  impl::for_each_block<1>(rows, cols, lds, ldd, [&](int r, int c) { dst[c * ldd + r] = src[r * lds + c]; });
}

void transpose_add_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                          const float* res, ptrdiff_t ldr, bool relu) {
  impl::for_each_block<1>(rows, cols, lds, ldd, [&](int r, int c) {
    const float y = src[r * lds + c] + res[c * ldr + r];
    dst[c * ldd + r] = relu ? (y > 0.f ? y : 0.f) : y;
  });
}

}  // namespace sr
