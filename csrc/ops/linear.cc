// Row-major MatMul with a packed constant weight: Y = X · W, computed as Yᵀ = Wᵀ · Xᵀ so the
// kernels stream contiguous runs of tokens (formats.h, item 2). X is transposed up front; each
// task transposes its own block of Yᵀ back into Y. The transposes cost O(M·K + M·N) against
// O(nnz·M) of kernel work. A single row (M = 1) needs no transpose at all.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

constexpr int kTile = 32;

}  // namespace

void transpose(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd) {
  const int tr = (rows + kTile - 1) / kTile, tc = (cols + kTile - 1) / kTile;
  const TransposeFn block = active_kernels().transpose;
  ThreadPool::instance().parallel_for(static_cast<int64_t>(tr) * tc, [&](int64_t t) {
    const int r0 = static_cast<int>(t / tc) * kTile, c0 = static_cast<int>(t % tc) * kTile;
    const int r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
    block(src + r0 * lds + c0, r1 - r0, c1 - c0, lds, dst + c0 * ldd + r0, ldd);
  });
}

namespace {

// Row-major [m][k] into token tiles [tiles][k][kColumnTile].
void rows_to_tiles(const float* x, int m, int k, float* xt) {
  for (int j0 = 0, t = 0; j0 < m; j0 += kColumnTile, ++t)
    transpose(x + static_cast<ptrdiff_t>(j0) * k, std::min(kColumnTile, m - j0), k, k,
              xt + static_cast<size_t>(t) * k * kColumnTile, kColumnTile);
}

}  // namespace

void linear_tiled(const PackedMatrix& a, const float* x, bool x_tiles, int m, float* y, bool y_tiles,
                  const float* bias, Act act, const float* residual) {
  const int n = a.rows(), k = a.cols();
  // The kernels read token tiles. Rows are transposed into the calling thread's scratch (no
  // allocation or page faults per run); so are tiles not on a cache line (a caller's own array),
  // whose 512-bit loads would straddle two lines (measured 30 % slower). Tiles instead of plain
  // rows of 128+ tokens: the 512-byte stride folded a CSR k-panel onto half of L1's sets and the
  // panel thrashed (measured: 2 threads took 0.72 ms instead of 0.5).
  const float* xt = x;
  if (!x_tiles || reinterpret_cast<uintptr_t>(x) % 64) {
    thread_local Scratch xt_buf;
    const size_t count = static_cast<size_t>(tile_count(m)) * k * kColumnTile;
    float* buf = xt_buf.floats(count);
    if (x_tiles)
      std::copy(x, x + count, buf);
    else
      rows_to_tiles(x, m, k, buf);
    xt = buf;
  }
  std::vector<SpmmProblem> problems;
  for (int j0 = 0, t = 0; j0 < m; j0 += kColumnTile, ++t) {
    const int mt = std::min(kColumnTile, m - j0);
    const float* b = xt + static_cast<size_t>(t) * k * kColumnTile;
    if (y_tiles) {  // the next layer's input, still tile-major
      problems.push_back({&a, b, kColumnTile, y + static_cast<size_t>(t) * n * kColumnTile, kColumnTile, mt, bias, {}});
      continue;
    }
    // Each task stores its block of Yᵀ transposed straight into Y (rows_out), residual and
    // activation included, while the block is in cache: no separate pass and pool barrier over Y
    // (on one thread the BERT-base 90 % run measured the same within noise, 50-54 ms either way).
    SpmmProblem p{&a, b, kColumnTile, nullptr, 0, mt, bias, {}};
    p.rows_out = y + static_cast<ptrdiff_t>(j0) * n;
    p.ld_out = n;
    if (residual) {
      p.residual = residual + static_cast<ptrdiff_t>(j0) * n;
      p.ldr = n;
    }
    problems.push_back(p);
  }
  spmm(problems, act);
}

void linear(const PackedMatrix& a, const float* x, int m, float* y, const float* bias, Act act,
            const float* residual) {
  if (m == 1) {  // y is a single column: the kernels' own layout, residual included
    SpmmProblem p{&a, x, 1, y, 1, 1, bias, {}};
    p.residual = residual;
    p.ldr = 1;
    spmm({p}, act);
    return;
  }
  linear_tiled(a, x, false, m, y, false, bias, act, residual);
}

}  // namespace sr
