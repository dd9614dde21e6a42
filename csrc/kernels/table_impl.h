// Fills a KernelTable with every microkernel for vector traits T.
#pragma once
#include "rowops_impl.h"
#include "gemm_impl.h"
#include "spmm_impl.h"

namespace sr {
namespace impl {
// Internal linkage: see spmm_impl.h.
namespace {

// Accumulator budgets per ISA: CSR-like kernels use NV accumulators (CSR two sets of them where
// they fit), 4x1 uses 4*NV, plain dense 8*NV; packed dense tiles are 32 outputs x NR_DENSE
// columns. TR: the ISA's block transpose, TRA the same summing a residual.
template <class T, int NV_ROW, int NV_BLOCK4, int NV_DENSE, int NR_DENSE, TransposeFn TR, TransposeAddFn TRA>
KernelTable make_table() {
  KernelTable t;
  t.isa = T::kName;
  t.csr = &csr<T, NV_ROW>;
  t.csr_panel_dots = &csr_panel_dots<T>;
  t.column_sum = &column_sum<T>;
  t.bsr4x1 = &bsr4x1<T, NV_BLOCK4>;
  t.bsr1x4 = &bsr1x4<T, NV_ROW>;
  t.nm24 = &nm24<T, NV_ROW>;
  t.dense = &dense<T, NV_DENSE, NR_DENSE, TR, TRA>;
  t.dense_shifted = &dense_shifted<T, NR_DENSE, TR, TRA>;
  t.gather_shifted = &gather_shifted<T>;
  t.activation = &activation<T>;
  t.add_activation = &add_activation<T>;
  t.transpose = TR;
  t.transpose_add = &transpose_add_act<T, TR, TRA>;
  t.softmax = &softmax<T>;
  t.layernorm = &layernorm<T>;
  t.fma_probe = &fma_probe<T>;
  t.max_into = &max_into<T>;
  t.max_columns = &max_columns<T>;
  t.vector_width = T::W;
  return t;
}

}  // namespace
}  // namespace impl
}  // namespace sr
