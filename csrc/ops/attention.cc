// Fused scaled-dot-product attention. A task is one (batch, head) pair and a tile of query rows:
// S = Q_tile · Kᵀ (dense kernel on row-major Q), softmax(scale * S + mask) in place, then
// O_tile = S · V (dense kernel again). The score tile stays in the task's scratch, so the
// [lq][lk] scores never make a round trip through memory, and there is one pool dispatch for all
// heads instead of three numpy/native passes each.
#include <algorithm>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

// Query rows per task: a multiple of the dense kernel's 8-row tile, small enough that the score
// tile (rows x lk floats) stays within ~64 KiB of L2 for long sequences.
int query_tile(int lq, int lk) {
  const int by_cache = std::max(8, (16384 / std::max(1, lk)) / 8 * 8);
  return std::min({64, by_cache, std::max(lq, 1)});
}

}  // namespace

void attention(const AttentionProblem& p) {
  const KernelTable& kt = active_kernels();
  const int tile = query_tile(p.lq, p.lk);
  const int tiles = (p.lq + tile - 1) / tile;
  const int64_t tasks = static_cast<int64_t>(p.b0) * p.b1 * tiles;
  const Epilogue none{nullptr, Act::kNone};
  ThreadPool::instance().parallel_for(tasks, [&](int64_t t) {
    const int tq = static_cast<int>(t % tiles);
    const int64_t bh = t / tiles;
    const int i1 = static_cast<int>(bh % p.b1), i0 = static_cast<int>(bh / p.b1);
    const int r0 = tq * tile, rows = std::min(tile, p.lq - r0);
    thread_local Scratch kt_buf, s_buf;
    // Kᵀ with unit stride over keys, as the kernel streams it; K given as rows is transposed here
    // (lk x dk floats per task, small next to the rows x lk x dk products).
    const float* kmat = p.k.at(i0, i1);
    ptrdiff_t ldk = p.k.row;
    if (p.k_rows) {
      ldk = aligned_stride(p.lk);
      float* buf = kt_buf.floats(static_cast<size_t>(p.dk) * ldk);
      kt.transpose(kmat, p.lk, p.dk, p.k.row, buf, ldk);
      kmat = buf;
    }
    const ptrdiff_t lds = aligned_stride(p.lk);
    float* s = s_buf.floats(static_cast<size_t>(rows) * lds);
    const float* q = p.q.at(i0, i1) + r0 * p.q.row;
    kt.dense(DenseView{rows, p.dk, q, p.q.row}, 0, rows, kmat, ldk, s, lds, p.lk, none);
    const float* mask = p.mask.p ? p.mask.at(i0, i1) + r0 * p.mask.row : nullptr;
    kt.softmax(s, lds, s, lds, mask, p.mask.row, p.scale, rows, p.lk);
    const ptrdiff_t ldo = p.heads_last ? static_cast<ptrdiff_t>(p.b1) * p.dv : p.dv;
    float* out = p.heads_last
                     ? p.out + ((static_cast<ptrdiff_t>(i0) * p.lq + r0) * p.b1 + i1) * p.dv
                     : p.out + ((static_cast<ptrdiff_t>(i0) * p.b1 + i1) * p.lq + r0) * p.dv;
    kt.dense(DenseView{rows, p.lk, s, lds}, 0, rows, p.v.at(i0, i1), p.v.row, out, ldo, p.dv, none);
  });
}

}  // namespace sr
