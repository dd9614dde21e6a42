// Every f32 sparse/dense microkernel, instantiated for scalar (this file alone gets its flags).
// Register tiles (vectors of columns): rows 4, 4x1 blocks and plain dense;
// packed dense tiles are 32 outputs x NR columns (gemm_impl.h). All as passed to make_table.
#include "sparse_runtime/vec_scalar.h"
#include "table_impl.h"

namespace sr {

const KernelTable& kernels_scalar() {
  static const KernelTable table = impl::make_table<VecScalar, 4, 4, 4, 1, &transpose_scalar, &transpose_add_scalar>();
  return table;
}

}  // namespace sr
