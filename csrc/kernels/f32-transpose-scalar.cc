// Portable block transpose (no ISA flags).
#include "sparse_runtime/kernels.h"

namespace sr {

void transpose_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
}

void transpose_add_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd,
                          const float* res, ptrdiff_t ldr, bool relu) {
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) {
      const float y = src[r * lds + c] + res[c * ldr + r];
      dst[c * ldd + r] = relu ? (y > 0.f ? y : 0.f) : y;
    }
}

}  // namespace sr
