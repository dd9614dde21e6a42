// Threading around the row-wise kernels: blocks of rows per task, sized so a task carries at
// least ~16K elements (smaller ones cost more to hand out than to compute).
#include <algorithm>
#include <cstring>

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

void gather_rows(const char* table, int64_t rows, int64_t row_bytes, const int64_t* index, int64_t count, char* out) {
  // ~64 KB per task: an embedding row of BERT-base is 3 KB, a run's 128 of them two tasks.
  const int64_t per_task = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, row_bytes));
  ThreadPool::instance().parallel_for((count + per_task - 1) / per_task, [&](int64_t t) {
    for (int64_t i = t * per_task; i < std::min(count, (t + 1) * per_task); ++i) {
      const int64_t r = index[i] < 0 ? index[i] + rows : index[i];  // checked by the caller
      std::memcpy(out + i * row_bytes, table + r * row_bytes, static_cast<size_t>(row_bytes));
    }
  });
}

void add(const float* a, const float* b, float* y, int64_t count) {
  constexpr int64_t kChunk = 1 << 14;
  ThreadPool::instance().parallel_for((count + kChunk - 1) / kChunk, [&](int64_t t) {
    const int64_t i0 = t * kChunk, i1 = std::min(count, i0 + kChunk);
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
  });
}

}  // namespace sr

