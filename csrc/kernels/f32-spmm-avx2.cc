// Every f32 sparse/dense microkernel, instantiated for avx2 (this file alone gets its flags).
// Register tiles (vectors of columns): rows 8 (a 64-column tile in one pass), 4x1 blocks 3, plain dense 1;
// packed dense tiles are 32 outputs x NR columns (gemm_impl.h). All as passed to make_table.
#include "sparse_runtime/vec_avx2.h"
#include "table_impl.h"

namespace sr {

const KernelTable& kernels_avx2() {
  // Dense tiles of 6 columns, in two passes of 16 outputs (gemm_tile): 12 accumulators, 2 weight
  // vectors and a broadcast of the 16 registers.
  static const KernelTable table = impl::make_table<VecAvx2, 8, 3, 1, 6, &transpose_avx, &transpose_add_avx>();
  return table;
}

}  // namespace sr
