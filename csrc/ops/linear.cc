// Row-major MatMul with a packed constant weight: Y = X · W, computed as Yᵀ = Wᵀ · Xᵀ so the
// kernels stream contiguous runs of tokens (formats.h, item 2). The two transposes cost O(M·K +
// M·N) against O(nnz·M) of kernel work. A single row (M = 1) needs no transpose at all.
#include <algorithm>
#include <vector>

#include "sparse_runtime/ops.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

constexpr int kTile = 32;

// Grow-only scratch of the calling thread: no allocation (and no page faults) per run.
float* scratch(std::vector<float>& buf, size_t count) {
  if (buf.size() < count) buf.resize(count);
  return buf.data();
}

}  // namespace

void transpose(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  const int tr = (rows + kTile - 1) / kTile, tc = (cols + kTile - 1) / kTile;
  ThreadPool::instance().parallel_for(static_cast<int64_t>(tr) * tc, [&](int64_t t) {
    const int r0 = static_cast<int>(t / tc) * kTile, c0 = static_cast<int>(t % tc) * kTile;
    const int r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
    for (int c = c0; c < c1; ++c)
      for (int r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c];
  });
}

void linear(const PackedMatrix& a, const float* x, int m, float* y, const float* bias, Act act) {
  const int n = a.rows(), k = a.cols();
  if (m == 1) {
    spmm({{&a, x, 1, y, 1, 1, bias, {}}}, act);
    return;
  }
  thread_local std::vector<float> xt_buf, yt_buf;
  float* xt = scratch(xt_buf, static_cast<size_t>(k) * m);
  float* yt = scratch(yt_buf, static_cast<size_t>(n) * m);
  transpose(x, m, k, k, xt, m);
  spmm({{&a, xt, m, yt, m, m, bias, {}}}, act);
  transpose(yt, n, m, m, y, n);
}

}  // namespace sr
