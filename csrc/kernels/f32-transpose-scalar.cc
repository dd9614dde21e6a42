// Portable block transpose (no ISA flags).
#include "sparse_runtime/kernels.h"

namespace sr {

void transpose_scalar(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) dst[c * ldd + r] = src[r * lds + c];
}

}  // namespace sr
