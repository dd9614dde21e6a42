// Every f32 sparse/dense microkernel, instantiated for avx512 (this file alone gets its flags).
// Register tiles (vectors of columns): rows 4, 4x1 blocks and plain dense;
// packed dense tiles are 32 outputs x NR columns (gemm_impl.h). All as passed to make_table.
#include "sparse_runtime/vec_avx512.h"
#include "table_impl.h"

namespace sr {

const KernelTable& kernels_avx512() {
  // Dense tiles up to 14 columns: 28 accumulators, 2 weight vectors and a broadcast fill the 32
  // registers, and a convolution row of 7, 14, 28 or 56 pixels (ResNet's) is whole tiles.
  static const KernelTable table = impl::make_table<VecAvx512, 4, 4, 2, 14, &transpose_avx, &transpose_add_avx>();
  return table;
}

}  // namespace sr
