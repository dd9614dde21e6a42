// Threading around the row-wise kernels: blocks of rows per task, sized so a task carries at
// least ~16K elements (smaller ones cost more to hand out than to compute).
#include <algorithm>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

template <class F>
void for_row_blocks(int rows, int cols, F&& f) {
  const int per_task = std::max(1, 16384 / std::max(1, cols));
  const int64_t tasks = (rows + per_task - 1) / per_task;
  ThreadPool::instance().parallel_for(tasks, [&](int64_t t) {
    const int r0 = static_cast<int>(t) * per_task;
    f(r0, std::min(rows, r0 + per_task) - r0);
  });
}

}  // namespace

void softmax_rows(const float* x, float* y, int rows, int cols) {
  const SoftmaxFn fn = active_kernels().softmax;
  for_row_blocks(rows, cols, [&](int r0, int n) {
    fn(x + static_cast<ptrdiff_t>(r0) * cols, cols, y + static_cast<ptrdiff_t>(r0) * cols, cols, nullptr, 0, 1.f,
       n, cols);
  });
}

void layernorm_rows(const float* x, float* y, int rows, int cols, const float* gamma, const float* beta,
                    float eps) {
  const LayerNormFn fn = active_kernels().layernorm;
  for_row_blocks(rows, cols, [&](int r0, int n) {
    fn(x + static_cast<ptrdiff_t>(r0) * cols, y + static_cast<ptrdiff_t>(r0) * cols, n, cols, gamma, beta, eps);
  });
}

}  // namespace sr
