// Splits products into tasks for the thread pool: column tiles of kColumnTile and row chunks of
// balanced stored-value counts, so a 90 %-sparse layer with uneven rows still splits evenly.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {


constexpr int64_t kMinTaskWork = 32768;   // FMAs below which splitting costs more than it gains
// Columns a sparse problem's work is rounded up to: one AVX-512 vector (two on AVX2); it only
// decides how many tasks a layer of few columns gets.
constexpr int kPlanColumns = 16;

int rows_of(const SpmmProblem& p) { return p.a ? p.a->rows() : p.plain.n; }

// Rows a task starts on: a whole block row, weight panel, or the plain-A tile's 8 rows.
int row_granule(const SpmmProblem& p) {
  if (!p.a) return 8;
  if (p.a->format() == Format::kBsr4x1) return kBsrRows;
  if (p.a->format() == Format::kDense) return kDensePanel;
  return 1;
}

// Stored values before row r (r a multiple of the granule), i.e. the work prefix.
int64_t work_before(const SpmmProblem& p, int r) {
  if (!p.a) return static_cast<int64_t>(r) * p.plain.k;
  const PackedMatrix& a = *p.a;
  switch (a.format()) {
    case Format::kCsr:
      return a.ptr()[r];
    case Format::kBsr1x4:
      return static_cast<int64_t>(a.ptr()[r]) * 4;
    case Format::kBsr4x1:
      return static_cast<int64_t>(a.ptr()[r / kBsrRows]) * kBsrRows;
    case Format::kNm24:
      return static_cast<int64_t>(r) * (a.cols() / 2);
    case Format::kDense:
      return static_cast<int64_t>(r) * a.cols();
  }
  return r;
}

// A sparse implicit GEMM: its tasks copy their column tile of B first (run_task_sparse_shifted).
bool sparse_shifted(const SpmmProblem& p) { return p.b_offsets && p.a && p.a->format() != Format::kDense; }

// Columns per task: kColumnTile, or for a dense implicit GEMM whose output rows have padding
// columns between them (conv_phases.h) and fit a tile, whole rows, so no task starts or ends
// mid-row and the kernel's register tiles cover rows exactly (14x14: 4 rows of 14 pixels, pitch
// 15, per task). A sparse one keeps whole vectors instead: at 57 or 58 columns the 4x1 kernel's
// masked last vector cost it 1.5-2x (ResNet-50's 3x3 layers at 80 %, one thread).
int column_tile(const SpmmProblem& p) {
  if (p.b_offsets && !sparse_shifted(p) && p.pitch > p.valid && p.pitch <= kColumnTile)
    return kColumnTile / p.pitch * p.pitch;
  return kColumnTile;
}

struct Task {
  int problem;
  int n0, n1;
  int j0, j1;
  // A one-column CSR task (column_by_panels): weight panels [p0, p1) of rows [n0, n1), and the
  // row chunk whose sum it counts down. p1 == 0 for every other task.
  int p0 = 0, p1 = 0, chunk = 0;
};

// A one-column CSR product (a single token or pixel) runs by weight panel rather than by rows: each
// task reads one contiguous run of the packed weight, whole panels of every row or one panel of a
// chunk of rows, and writes its dots per panel; the last task of a row chunk sums the panels in
// order (the same order as csr_gemv: results do not depend on the split) and stores the chunk. Split
// by rows, a task read one short run per panel (7 KiB at 768 x 3072 and 90 %), which the hardware
// prefetcher picked up too late: 8 GB/s of weight on one core against 14 in one run.
bool column_by_panels(const SpmmProblem& p) {
  return p.m == 1 && p.a && p.a->format() == Format::kCsr && !p.b_offsets;
}

// Where a column_by_panels problem keeps its per-panel dots ([panels][rows]) and its chunks' counters.
struct ColumnPlan {
  size_t partial_offset = 0;  // floats into Plan::partial
  int first_counter = 0;
};

struct Plan {
  std::vector<Task> tasks;
  std::vector<ColumnPlan> columns;  // per problem
  float* partial = nullptr;  // every column_by_panels problem's dots
  std::unique_ptr<std::atomic<int>[]> counters;  // tasks left per row chunk
};

// Stored values of the whole problem plus a fixed epilogue per row, counted as a few stored values.
int64_t total_work(const SpmmProblem& pr) {
  const int g = row_granule(pr);
  const int units = (rows_of(pr) + g - 1) / g;
  return work_before(pr, units * g) + 4LL * units * g;
}

// Row chunk boundaries of balanced work (stored values plus a per-row epilogue): chunk c ends where
// the work prefix crosses c/chunks of the total, on a multiple of the granule g.
std::vector<int> row_chunks(const SpmmProblem& pr, int chunks) {
  const int n = rows_of(pr), g = row_granule(pr);
  const int units = (n + g - 1) / g;
  const int64_t total = total_work(pr);
  std::vector<int> ends;
  int prev = 0;
  for (int c = 1; c <= chunks; ++c) {
    int next;
    if (c == chunks) {
      next = n;
    } else {
      const int64_t target = total * c / chunks;
      int lo = prev / g, hi = units;  // first unit whose prefix reaches the target
      while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (work_before(pr, mid * g) + 4LL * mid * g >= target)
          hi = mid;
        else
          lo = mid + 1;
      }
      next = std::min(lo * g, n);
    }
    if (next <= prev) continue;
    ends.push_back(next);
    prev = next;
  }
  return ends;
}

// Tasks wanted for a problem: enough work per task to pay for its start, at most four per thread.
int64_t wanted_tasks(const SpmmProblem& pr, int threads) {
  const int64_t total = total_work(pr);
  // A sparse kernel's cost per stored value barely falls below kPlanColumns columns (a vector per
  // stored value, or CSR's scalar walk for one column): counted by columns alone, a one-token
  // 768 x 768 layer at 90 % was one task on one core (BERT-base at seq 1).
  const int64_t columns =
      pr.a && pr.a->format() != Format::kDense ? (pr.m + kPlanColumns - 1) / kPlanColumns * kPlanColumns : pr.m;
  return std::max<int64_t>(1, std::min<int64_t>(total * columns / kMinTaskWork, 4LL * threads));
}

// column_by_panels tasks: with at least as many panels as tasks wanted, groups of whole panels
// (every row); otherwise each panel split into the same row chunks. Panel-major order, so a
// thread's share of the tasks (ThreadPool) is one stretch of the weight.
void plan_column(const SpmmProblem& pr, int p, int threads, Plan& plan, size_t& partial_floats,
                 std::vector<int>& chunk_tasks) {
  const CsrView& a = pr.a->csr();
  const int64_t want = wanted_tasks(pr, threads);
  ColumnPlan& cp = plan.columns[static_cast<size_t>(p)];
  cp.first_counter = static_cast<int>(chunk_tasks.size());
  cp.partial_offset = partial_floats;
  partial_floats += static_cast<size_t>(a.panels) * a.n;
  if (want <= a.panels) {
    const int groups = static_cast<int>(want);
    for (int i = 0; i < groups; ++i)
      plan.tasks.push_back({p, 0, a.n, 0, 1, a.panels * i / groups, a.panels * (i + 1) / groups, 0});
    chunk_tasks.push_back(groups);
    return;
  }
  const std::vector<int> ends = row_chunks(pr, static_cast<int>((want + a.panels - 1) / a.panels));
  for (int pn = 0; pn < a.panels; ++pn)
    for (size_t c = 0, n0 = 0; c < ends.size(); n0 = ends[c++])
      plan.tasks.push_back({p, static_cast<int>(n0), ends[c], 0, 1, pn, pn + 1, static_cast<int>(c)});
  for (size_t c = 0; c < ends.size(); ++c) chunk_tasks.push_back(a.panels);
}

void plan_tasks(const std::vector<SpmmProblem>& problems, int threads, Plan& plan) {
  std::vector<Task>& tasks = plan.tasks;
  plan.columns.assign(problems.size(), ColumnPlan{});
  size_t partial_floats = 0;
  std::vector<int> chunk_tasks;
  for (int p = 0; p < static_cast<int>(problems.size()); ++p) {
    const SpmmProblem& pr = problems[p];
    const int n = rows_of(pr);
    if (n == 0 || pr.m == 0) continue;
    if (column_by_panels(pr)) {
      plan_column(pr, p, threads, plan, partial_floats, chunk_tasks);
      continue;
    }
    const int g = row_granule(pr);
    const int units = (n + g - 1) / g;
    // Wider or narrower tiles measured slower (6-20 %) for k = 768 and 3072 alike.
    const int tile = column_tile(pr);
    const int col_tiles = (pr.m + tile - 1) / tile;
    const int64_t want = wanted_tasks(pr, threads);
    const int chunks = static_cast<int>(std::min<int64_t>(units, (want + col_tiles - 1) / col_tiles));
    const size_t first_task = tasks.size();
    int prev = 0;
    for (const int next : row_chunks(pr, chunks)) {
      for (int t = 0; t < col_tiles; ++t)
        tasks.push_back({p, prev, next, t * tile, std::min(pr.m, (t + 1) * tile)});
      prev = next;
    }
    // Tasks that copy their column tile go tile by tile, so a thread's consecutive tasks (its share
    // of the pool's job) mostly share a tile and copy it once.
    if (sparse_shifted(pr))
      std::stable_sort(tasks.begin() + first_task, tasks.end(), [](const Task& a, const Task& b) { return a.j0 < b.j0; });
  }
  if (chunk_tasks.empty()) return;
  // The calling thread's scratch: the workers only write into it while spmm waits for them.
  thread_local Scratch partial_buf;
  plan.partial = partial_buf.floats(partial_floats);
  plan.counters.reset(new std::atomic<int>[chunk_tasks.size()]);
  for (size_t c = 0; c < chunk_tasks.size(); ++c) plan.counters[c].store(chunk_tasks[c], std::memory_order_relaxed);
}

// A column_by_panels task: its panels' dots, then, if it is its row chunk's last, the chunk's sums.
void run_column_task(const KernelTable& kt, const SpmmProblem& pr, const Task& t, Act act, const Plan& plan) {
  const CsrView& a = pr.a->csr();
  const ColumnPlan& cp = plan.columns[static_cast<size_t>(t.problem)];
  float* const partial = plan.partial + cp.partial_offset;
  for (int pn = t.p0; pn < t.p1; ++pn)
    kt.csr_panel_dots(a, pn, t.n0, t.n1, pr.B, pr.ldb, partial + static_cast<ptrdiff_t>(pn) * a.n + t.n0, false);
  // acq_rel: the last task sees every other task's dots of the chunk.
  if (plan.counters[static_cast<size_t>(cp.first_counter + t.chunk)].fetch_sub(1, std::memory_order_acq_rel) != 1)
    return;
  // A row-major output (rows_out) of one column is one contiguous row, and so is its residual.
  float* const out = pr.rows_out ? pr.rows_out : pr.C;
  const ptrdiff_t ldo = pr.rows_out ? 1 : pr.ldc, ldr = pr.rows_out ? 1 : pr.ldr;
  kt.column_sum(partial + t.n0, a.n, a.panels, t.n0, t.n1, out, ldo, Epilogue{pr.bias, act, pr.residual, ldr});
}

// Rows [n0, n1) of the product of pr's A and B (row stride ldb) over m columns into C (row stride ldc).
void run_kernel(const KernelTable& kt, const SpmmProblem& pr, int n0, int n1, const float* B, ptrdiff_t ldb,
                float* C, ptrdiff_t ldc, int m, const Epilogue& ep) {
  if (!pr.a) {
    kt.dense(pr.plain, n0, n1, B, ldb, C, ldc, m, ep);
    return;
  }
  const PackedMatrix& a = *pr.a;
  switch (a.format()) {
    case Format::kCsr:
      kt.csr(a.csr(), n0, n1, B, ldb, C, ldc, m, ep);
      break;
    case Format::kBsr4x1:
      kt.bsr4x1(a.bsr4x1(), n0, n1, B, ldb, C, ldc, m, ep);
      break;
    case Format::kBsr1x4:
      kt.bsr1x4(a.bsr1x4(), n0, n1, B, ldb, C, ldc, m, ep);
      break;
    case Format::kNm24:
      kt.nm24(a.nm24(), n0, n1, B, ldb, C, ldc, m, ep);
      break;
    case Format::kDense:
      kt.dense(a.dense(), n0, n1, B, ldb, C, ldc, m, ep);
      break;
  }
}

// The task's product into C (already offset to the task's first column), row stride ldc.
void run_kernel(const KernelTable& kt, const SpmmProblem& pr, const Task& t, const Epilogue& ep, float* C,
                ptrdiff_t ldc) {
  run_kernel(kt, pr, t.n0, t.n1, pr.B + t.j0, pr.ldb, C, ldc, t.j1 - t.j0, ep);
}

// A task of a rows_out problem: C rows [n0, n1) into scratch (indexed by absolute row, so the
// kernels need no offset; rows below n0 are never touched, so never paged in), then transposed
// into Y and, with a residual, summed and activated there.
void run_task_rows_out(const KernelTable& kt, const SpmmProblem& pr, const Task& t, Act act) {
  constexpr ptrdiff_t ld = kColumnTile;
  thread_local Scratch block;
  float* C = block.floats(static_cast<size_t>(t.n1) * ld);
  const Epilogue ep{pr.bias, pr.residual ? Act::kNone : act, nullptr, 0};
  run_kernel(kt, pr, t, ep, C, ld);
  const int rows = t.n1 - t.n0, m = t.j1 - t.j0;
  float* Y = pr.rows_out + static_cast<ptrdiff_t>(t.j0) * pr.ld_out + t.n0;
  const float* tile = C + static_cast<ptrdiff_t>(t.n0) * ld;
  if (!pr.residual) return kt.transpose(tile, rows, m, ld, Y, pr.ld_out);
  kt.transpose_add(tile, rows, m, ld, Y, pr.ld_out, pr.residual + static_cast<ptrdiff_t>(t.j0) * pr.ldr + t.n0,
                   pr.ldr, act);
}

// A task of a sparse implicit GEMM (sparse A over phase planes): the task's column tile of B is
// copied into an aligned block (or found there: the thread's previous task of the same call may
// have had the same tile), the format's kernel multiplies it into scratch over the virtual columns, and
// each row's real pixels go to C run by run, the residual summed and the activation applied there.
// Against im2col (gather_tile, conv.cc) the copy is k contiguous runs per tile, not k runs per
// output row clipped to the image.
void run_task_sparse_shifted(const KernelTable& kt, const SpmmProblem& pr, const Task& t, Act act, uint64_t call) {
  constexpr ptrdiff_t ld = kColumnTile;
  const int m = t.j1 - t.j0, k = pr.a->cols();
  thread_local Scratch tile_buf;
  thread_local uint64_t tile_call = 0;
  thread_local int tile_problem = -1, tile_j0 = -1;
  float* tile = tile_buf.floats(static_cast<size_t>(k) * ld);
  if (tile_call != call || tile_problem != t.problem || tile_j0 != t.j0) {
    kt.gather_shifted(pr.B + t.j0, pr.b_offsets, k, m, tile, ld);
    tile_call = call;
    tile_problem = t.problem;
    tile_j0 = t.j0;
  }
  thread_local Scratch out_buf;
  float* S = out_buf.floats(static_cast<size_t>(t.n1) * ld);  // indexed by absolute row
  const Epilogue ep{pr.bias, pr.residual ? Act::kNone : act, nullptr, 0};
  run_kernel(kt, pr, t.n0, t.n1, tile, ld, S, ld, m, ep);
  for (int v = t.j0; v < t.j1;) {
    const int row = v / pr.pitch, x = v % pr.pitch;
    if (x >= pr.valid) {  // padding columns: computed, dropped
      v = (row + 1) * pr.pitch;
      continue;
    }
    const int end = std::min(t.j1, row * pr.pitch + pr.valid);
    const ptrdiff_t q = static_cast<ptrdiff_t>(row) * pr.valid + x;  // the run's first pixel in C
    for (int n = t.n0; n < t.n1; ++n) {
      float* dst = pr.C + n * pr.ldc + q;
      std::memcpy(dst, S + n * ld + (v - t.j0), sizeof(float) * (end - v));
      if (pr.residual) kt.add_activation(dst, pr.residual + n * pr.ldr + q, end - v, act);
    }
    v = end;
  }
}

void run_task(const KernelTable& kt, const SpmmProblem& pr, const Task& t, Act act, uint64_t call) {
  if (pr.rows_out) return run_task_rows_out(kt, pr, t, act);
  if (sparse_shifted(pr)) return run_task_sparse_shifted(kt, pr, t, act, call);
  if (pr.b_offsets) {
    const ShiftedB B{pr.B, pr.b_offsets, t.j0, pr.pitch, pr.valid, pr.b_column_stride, pr.c_blocked};
    kt.dense_shifted(pr.a->dense(), t.n0, t.n1, B, pr.C, pr.ldc, t.j1 - t.j0, Epilogue{pr.bias, act, pr.residual, pr.ldr});
    return;
  }
  const Epilogue ep{pr.bias, act, pr.residual ? pr.residual + t.j0 : nullptr, pr.ldr};
  run_kernel(kt, pr, t, ep, pr.C + t.j0, pr.ldc);
}

// Numbers spmm calls, so a task knows whether a column tile its thread copied is of this call.
std::atomic<uint64_t> spmm_calls{0};

}  // namespace

void spmm(const std::vector<SpmmProblem>& problems, Act act) {
  ThreadPool& pool = ThreadPool::instance();
  const KernelTable& kt = active_kernels();
  Plan plan;
  plan_tasks(problems, pool.num_threads(), plan);
  const uint64_t call = ++spmm_calls;
  pool.parallel_for(static_cast<int64_t>(plan.tasks.size()), [&](int64_t i) {
    const Task& t = plan.tasks[static_cast<size_t>(i)];
    if (t.p1 > 0) return run_column_task(kt, problems[t.problem], t, act, plan);
    run_task(kt, problems[t.problem], t, act, call);
  });
}

void spmm_on_this_thread(const SpmmProblem& problem, Act act) {
  if (problem.m == 0) return;
  const KernelTable& kt = active_kernels();
  const uint64_t call = ++spmm_calls;
  // Tasks that stage their columns in kColumnTile-wide scratch (rows_out, sparse implicit GEMM)
  // take one column tile at a time, as in spmm; the others take every column at once.
  const int tile = problem.rows_out || sparse_shifted(problem) ? kColumnTile : problem.m;
  for (int j0 = 0; j0 < problem.m; j0 += tile)
    run_task(kt, problem, Task{0, 0, rows_of(problem), j0, std::min(problem.m, j0 + tile)}, act, call);
}

void batched_matmul(const float* A, ptrdiff_t stride_a, const float* B, ptrdiff_t stride_b, float* C,
                    int batch, int M, int K, int N) {
  std::vector<SpmmProblem> problems;
  problems.reserve(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b)
    problems.push_back({nullptr, B + b * stride_b, N, C + static_cast<ptrdiff_t>(b) * M * N, N, N, nullptr,
                        DenseView{M, K, A + b * stride_a, K}});
  spmm(problems, Act::kNone);
}

void activation(float* x, ptrdiff_t count, Act act) {
  if (act == Act::kNone || count <= 0) return;
  const KernelTable& kt = active_kernels();
  constexpr ptrdiff_t kChunk = 1 << 14;
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  ThreadPool::instance().parallel_for(chunks, [&](int64_t c) {
    const ptrdiff_t begin = c * kChunk;
    kt.activation(x + begin, std::min(kChunk, count - begin), act);
  });
}

}  // namespace sr
