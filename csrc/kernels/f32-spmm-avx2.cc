// Every f32 sparse/dense microkernel, instantiated for avx2 (this file alone gets its flags).
// Register tiles (vectors of columns): rows 4, 4x1 blocks and dense panels as passed to make_table.
#include "sparse_runtime/vec_avx2.h"
#include "table_impl.h"

namespace sr {

const KernelTable& kernels_avx2() {
  static const KernelTable table = impl::make_table<VecAvx2, 4, 2, 1>(&transpose_avx);
  return table;
}

}  // namespace sr
