// NCHW convolution on the spmm kernels: the output of one image and group is C[Co/g][Ho·Wo] =
// A[Co/g][Ci/g·kh·kw] · B[Ci/g·kh·kw][Ho·Wo], already channels-major.
//
// B is gathered (im2col; a plain copy for a 1x1 stride-1 unpadded convolution) one column tile
// of kColumnTile output pixels at a time, as a [k][kColumnTile] block: each kernel call then reads
// one contiguous block. Read in place, a 56x56 plane put k rows 12.5 KB apart and a CSR k-panel
// folded onto the same L1 sets (measured 16-22 GFLOP/s on those layers instead of 50+).
//  - Many tiles: a task gathers its tile into its own scratch and multiplies it at once, so the
//    tile never leaves L2 (a whole 3x3 im2col of a 56x56x64 input is 7 MB of writes and reads).
//  - Few tiles (small planes, e.g. 7x7): gather every tile in parallel, then split the product
//    by rows over the pool.
//  - A 1x1 convolution whose input channels each feed few nonzeros reads the input in place:
//    the copy would cost more than it saves.
//  - With a kernel of more than one tap, im2col is skipped altogether (implicit GEMM): the input
//    is copied once into phase planes (conv_phases.h) in which every kernel tap is one fixed offset
//    from the output pixel, and consecutive output pixels are consecutive columns of B. Dense
//    weights read B there in place (ResNet-50 on 2 threads, against im2col: 3x3 stride-1 layers at
//    56x56 160 -> 188 GFLOP/s, 28x28 174 -> 193, 14x14 164 -> 176; the 7x7 stride-2 stem 138 ->
//    167); sparse ones copy each column tile out of them first (below, in conv2d).
#include <algorithm>
#include <cstring>
#include <vector>

#include "sparse_runtime/ops.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/threadpool.h"
#include "conv_phases.h"

namespace sr {
namespace {

bool is_pointwise(const ConvShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0;
}

// Pixels [p0, p1) of B's row for input channel `channel`, kernel offset (i, j), into dst.
// Plain loops, not memcpy: runs are a few to a few dozen floats, where a call costs more.
void im2col_run(const ConvShape& s, const float* channel, int i, int j, int p0, int p1, float* dst) {
  const int shift = j * s.dilation_w - s.pad_left;
  // Output columns whose input column lies inside the image: [lo, hi).
  int lo = 0, hi = s.out_w;
  while (lo < hi && lo * s.stride_w + shift < 0) ++lo;
  while (hi > lo && (hi - 1) * s.stride_w + shift >= s.in_w) --hi;
  int oh = p0 / s.out_w, ow = p0 % s.out_w;
  for (int p = p0; p < p1; ++oh, ow = 0) {
    const int n = std::min(s.out_w - ow, p1 - p), end = ow + n;
    const int ih = oh * s.stride_h - s.pad_top + i * s.dilation_h;
    if (ih < 0 || ih >= s.in_h) {
      for (int e = 0; e < n; ++e) dst[e] = 0.f;
    } else {
      const float* in = channel + static_cast<ptrdiff_t>(ih) * s.in_w + shift;
      const int a = std::min(std::max(ow, lo), end), b = std::max(std::min(end, hi), a);
      float* d = dst - ow;  // indexed by output column
      for (int c = ow; c < a; ++c) d[c] = 0.f;
      if (s.stride_w == 1)
        for (int c = a; c < b; ++c) d[c] = in[c];
      else
        for (int c = a; c < b; ++c) d[c] = in[c * s.stride_w];
      for (int c = b; c < end; ++c) d[c] = 0.f;
    }
    dst += n;
    p += n;
  }
}

// Column tile t of B for one image and group: the rows of local input channels [c0, c1) of its
// [kg][kColumnTile] floats at dst.
void gather_tile(const ConvShape& s, const float* image, int g, int t, float* dst, int c0, int c1) {
  const int cig = s.in_channels / s.groups, kk = s.kernel_h * s.kernel_w;
  const ptrdiff_t plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w;
  const int out_plane = s.out_h * s.out_w;
  const int p0 = t * kColumnTile, p1 = std::min(out_plane, p0 + kColumnTile);
  const bool pointwise = is_pointwise(s);
  for (int cl = c0; cl < c1; ++cl) {
    const float* channel = image + (static_cast<ptrdiff_t>(g) * cig + cl) * plane;
    if (pointwise) {
      float* d = dst + static_cast<ptrdiff_t>(cl) * kColumnTile;
      // A whole tile is a constant-size copy, which the compiler inlines as vector moves: a
      // library call per 256 bytes cost 4-7 % on ResNet-50's 1x1 layers (2 threads).
      if (p1 - p0 == kColumnTile)
        std::memcpy(d, channel + p0, sizeof(float) * kColumnTile);
      else
        std::memcpy(d, channel + p0, sizeof(float) * (p1 - p0));
      continue;
    }
    for (int i = 0; i < s.kernel_h; ++i)
      for (int j = 0; j < s.kernel_w; ++j)
        im2col_run(s, channel, i, j, p0, p1,
                   dst + static_cast<ptrdiff_t>(cl * kk + i * s.kernel_w + j) * kColumnTile);
  }
}

// A 1x1 convolution copies its input only where each input channel feeds enough nonzeros
// (measured on ResNet-50 at 90 %: 64 outputs x 10 % are faster in place, 256+ outputs copied).
bool copy_pays(const std::vector<const PackedMatrix*>& weights, int cig) {
  int64_t stored = 0;
  for (const PackedMatrix* w : weights) stored += w->stored();
  return stored >= static_cast<int64_t>(16) * cig * static_cast<int64_t>(weights.size());
}

// Whether to run one task per tile (gather and multiply at once) rather than gather everything,
// then split the product by rows. Dense weights also need the tiles to keep the threads level
// (busiest thread's columns against an even share): a 14x14 plane is 3 full tiles and a 4-column
// one, which split 128/68 columns on 2 threads (dense ResNet-50: 60 -> 52 ms). A 28x28 plane's
// 13 tiles (7/6) stay one per tile: the split product re-reads each gathered tile once per row
// chunk, and measured 1-3 % slower there (limit 1.1 against 1.2, alternating runs). Sparse weights
// keep one task per tile regardless: there the split product measured slower (ResNet-50 at 95 %:
// 12.4-13.0 -> 14.6-16.6 ms), the kernel being more sensitive to where B lives than to balance.
bool task_per_tile(int64_t all_tiles, int out_plane, int planes, int threads, bool dense) {
  if (all_tiles < 2LL * threads) return false;
  if (!dense) return true;
  const int64_t busiest = (all_tiles + threads - 1) / threads * kColumnTile;
  return busiest <= 1.2 * static_cast<double>(out_plane) * planes / threads;
}

// The product writing output columns [j0, j0 + m) of (image, group g), reading B at b (row stride
// ldb); bias and residual (same NCHW layout as y) offset to match.
SpmmProblem plane_problem(const std::vector<const PackedMatrix*>& weights, const ConvShape& s, float* y,
                          const float* bias, const float* residual, int image, int g, ptrdiff_t j0, const float* b,
                          ptrdiff_t ldb, int m) {
  const int cog = s.out_channels / s.groups;
  const ptrdiff_t out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  float* C = y + (static_cast<ptrdiff_t>(image) * s.out_channels + g * cog) * out_plane + j0;
  SpmmProblem p{weights[g], b, ldb, C, out_plane, m, bias ? bias + g * cog : nullptr, {}};
  if (residual) {
    p.residual = residual + (C - y);
    p.ldr = out_plane;
  }
  return p;
}

// Any packed weights on the input's phase planes (conv_phases.h): no im2col.
void conv2d_implicit(const std::vector<const PackedMatrix*>& weights, const ConvShape& s, const PhaseLayout& l,
                     const float* x, float* y, const float* bias, Act act, const float* residual) {
  const int G = s.groups, cig = s.in_channels / G;
  const ptrdiff_t channel_floats = l.plane * l.phases;
  thread_local Scratch phase_buf;
  float* phases = phase_buf.floats(static_cast<size_t>(channel_floats) * s.batch * s.in_channels);
  const int64_t channels = static_cast<int64_t>(s.batch) * s.in_channels;
  ThreadPool::instance().parallel_for(channels, [&](int64_t c) {
    fill_phases(s, l, x + c * s.in_h * s.in_w, phases + c * channel_floats);
  });
  std::vector<SpmmProblem> problems;
  for (int image = 0; image < s.batch; ++image)
    for (int g = 0; g < G; ++g) {
      const ptrdiff_t first_channel = static_cast<ptrdiff_t>(image) * s.in_channels + g * cig;
      SpmmProblem p = plane_problem(weights, s, y, bias, residual, image, g, 0,
                                    phases + first_channel * channel_floats, 0, l.columns);
      p.b_offsets = l.offsets.data();
      p.pitch = l.pitch;
      p.valid = s.out_w;
      problems.push_back(p);
    }
  spmm(problems, act);
}

// A blocked conv the blocked path does not take (grouped or sparse weights, planes past int32
// offsets): converted to NCHW around the NCHW path, so every layout pairing gives an answer.
void conv2d_via_nchw(const std::vector<const PackedMatrix*>& weights, ConvShape s, const float* x, float* y,
                     const float* bias, Act act, const float* residual) {
  using Buffer = std::vector<float, AlignedAllocator<float>>;
  const ptrdiff_t in_plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w, out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  Buffer x_nchw, y_nchw, r_nchw;
  if (s.x_blocked) {
    x_nchw.resize(static_cast<size_t>(s.batch) * s.in_channels * in_plane);
    from_blocked(x, x_nchw.data(), s.batch, s.in_channels, in_plane);
    x = x_nchw.data();
  }
  const bool y_blocked = s.y_blocked;
  s.x_blocked = s.y_blocked = false;
  if (!y_blocked) return conv2d(weights, s, x, y, bias, act, residual);
  y_nchw.resize(static_cast<size_t>(s.batch) * s.out_channels * out_plane);
  if (residual) {
    r_nchw.resize(y_nchw.size());
    from_blocked(residual, r_nchw.data(), s.batch, s.out_channels, out_plane);
  }
  conv2d(weights, s, x, y_nchw.data(), bias, act, residual ? r_nchw.data() : nullptr);
  to_blocked(y_nchw.data(), y, s.batch, s.out_channels, out_plane);
}

}  // namespace

void conv2d(const std::vector<const PackedMatrix*>& weights, const ConvShape& s, const float* x,
            float* y, const float* bias, Act act, const float* residual) {
  if (s.x_blocked || s.y_blocked) {
    if (blocked_conv_supported(weights, s)) return conv2d_blocked(*weights[0], s, x, y, bias, act, residual);
    return conv2d_via_nchw(weights, s, x, y, bias, act, residual);
  }
  const int G = s.groups, cig = s.in_channels / G;
  const int kg = cig * s.kernel_h * s.kernel_w;
  const ptrdiff_t in_image = static_cast<ptrdiff_t>(s.in_channels) * s.in_h * s.in_w;
  const ptrdiff_t out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  const int tiles = tile_count(static_cast<int>(out_plane));
  const size_t tile_floats = static_cast<size_t>(kg) * kColumnTile;
  ThreadPool& pool = ThreadPool::instance();

  // Tile (image, group, t) of the output and the product that computes it from B at `b`.
  auto problem = [&](int image, int g, int t, const float* b) {
    const ptrdiff_t j0 = static_cast<ptrdiff_t>(t) * kColumnTile;
    return plane_problem(weights, s, y, bias, residual, image, g, j0, b, kColumnTile,
                         static_cast<int>(std::min<ptrdiff_t>(kColumnTile, out_plane - j0)));
  };

  if (is_pointwise(s) && !copy_pays(weights, cig)) {
    std::vector<SpmmProblem> problems;
    for (int image = 0; image < s.batch; ++image)
      for (int g = 0; g < G; ++g) {
        SpmmProblem p = problem(image, g, 0, x + image * in_image + static_cast<ptrdiff_t>(g) * cig * out_plane);
        p.ldb = out_plane;
        p.m = static_cast<int>(out_plane);
        problems.push_back(p);
      }
    spmm(problems, act);
    return;
  }

  // Implicit GEMM where the kernel has more than one tap (a 1x1 tile copy is cheap, and measured
  // as fast or faster than reading the input in place). Dense tiles skip the padding columns
  // between rows, so narrow planes gain most: against im2col, one thread, 3x3 dense, 64 -> 64
  // channels at 16x2 / 16x4 / 5x5 1.30 / 1.35 / 1.71x, 512 -> 512 at 7x7 1.05x, 256 -> 256 at 14x14
  // the same. Sparse weights copy each column tile out of the phase planes (spmm.cc): k runs of
  // 64 floats where im2col clipped k runs per output row to the image. ResNet-50's 3x3 layers at
  // 90 % CSR, two threads, against im2col: 1.2-1.9x (64 @56x56 0.62 -> 0.35 ms, 512 @7x7 0.55 ->
  // 0.36, stride 2 128 @56x56 0.80 -> 0.43).
  if (s.kernel_h * s.kernel_w > 1) {
    const PhaseLayout l = phase_layout(s);
    if (l.pitch)
      return conv2d_implicit(weights, s, l, x, y, bias, act, residual);
  }

  const bool dense = std::all_of(weights.begin(), weights.end(),
                                 [](const PackedMatrix* w) { return w->format() == Format::kDense; });
  const int64_t all_tiles = static_cast<int64_t>(s.batch) * G * tiles;
  if (task_per_tile(all_tiles, static_cast<int>(out_plane), s.batch * G, pool.num_threads(),
                    dense)) {
    pool.parallel_for(all_tiles, [&](int64_t task) {
      const int t = static_cast<int>(task % tiles), g = static_cast<int>(task / tiles % G);
      const int image = static_cast<int>(task / tiles / G);
      thread_local Scratch tile_buf;
      float* b = tile_buf.floats(tile_floats);
      gather_tile(s, x + image * in_image, g, t, b, 0, cig);
      spmm_on_this_thread(problem(image, g, t, b), act);
    });
    return;
  }

  thread_local Scratch col_buf;
  float* cols = col_buf.floats(tile_floats * static_cast<size_t>(all_tiles));
  constexpr int kChannelsPerJob = 16;  // gather jobs: (tile, block of input channels)
  const int blocks = (cig + kChannelsPerJob - 1) / kChannelsPerJob;
  pool.parallel_for(all_tiles * blocks, [&](int64_t job) {
    const int64_t task = job / blocks;
    const int c0 = static_cast<int>(job % blocks) * kChannelsPerJob;
    const int t = static_cast<int>(task % tiles), g = static_cast<int>(task / tiles % G);
    gather_tile(s, x + task / tiles / G * in_image, g, t, cols + tile_floats * task, c0,
                std::min(cig, c0 + kChannelsPerJob));
  });
  std::vector<SpmmProblem> problems;
  for (int64_t task = 0; task < all_tiles; ++task)
    problems.push_back(problem(static_cast<int>(task / tiles / G), static_cast<int>(task / tiles % G),
                               static_cast<int>(task % tiles), cols + tile_floats * task));
  spmm(problems, act);
}

}  // namespace sr
