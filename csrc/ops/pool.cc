// 2-D max pooling of NCHW float32 planes on the pool. Per output row, the max over the window's
// input rows is taken first (contiguous, vectorised), then each output takes the max over its
// columns of that row: 2 passes instead of kh*kw strided ones. Padding never wins a max, so taps
// outside the image are skipped (a window with no tap inside gives -inf, as -inf padding would).
// Both passes run on the active ISA's kernels (max_into, max_columns in rowops_impl.h): compiled
// here, without ISA flags, they took 2-3x ONNX Runtime's pooling.
#include <algorithm>
#include <cmath>
#include <vector>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

constexpr int kMaxVectorFloats = 16;  // the widest ISA's vector (AVX-512)

// The window maxima of one input row sit inside a -inf border as wide as the padding, so the
// column pass reads every tap without bounds checks: floats of that bordered row, and of its left
// border, plus the two vectors the stride-2 pass may read past the last tap.
ptrdiff_t bordered_row_floats(const PoolShape& s, int lanes) {
  const int right = std::max(0, (s.out_w - 1) * s.stride_w + (s.kernel_w - 1) * s.dilation_w + 1 - s.pad_left - s.in_w);
  return static_cast<ptrdiff_t>(s.pad_left + s.in_w + right) * lanes + 2 * kMaxVectorFloats;
}

// Output row oh of one plane of `lanes`-float pixels: the max over the window's input rows into
// m (the bordered row's column 0), then each output pixel's max over its taps of m.
void pool_output_row(const KernelTable& kt, const PoolShape& s, int lanes, const float* in, float* m, int oh,
                     float* out_row) {
  const ptrdiff_t n = static_cast<ptrdiff_t>(s.in_w) * lanes;
  bool any = false;
  for (int i = 0; i < s.kernel_h; ++i) {
    const int ih = oh * s.stride_h - s.pad_top + i * s.dilation_h;
    if (ih < 0 || ih >= s.in_h) continue;
    const float* r = in + ih * n;
    if (!any) {
      std::copy(r, r + n, m);
      any = true;
    } else {
      kt.max_into(m, r, n);
    }
  }
  if (!any) std::fill(m, m + n, -INFINITY);
  kt.max_columns(m - static_cast<ptrdiff_t>(s.pad_left) * lanes, out_row, s.out_w, s.kernel_w, s.stride_w,
                 s.dilation_w, lanes);
}

}  // namespace

void maxpool2d(const float* x, float* y, int planes, const PoolShape& s) {
  const ptrdiff_t in_plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w;
  const ptrdiff_t out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  const int per_task = std::max(1, static_cast<int>(16384 / std::max<ptrdiff_t>(1, in_plane)));
  const int64_t tasks = (planes + per_task - 1) / per_task;
  const ptrdiff_t bordered = bordered_row_floats(s, 1);
  const KernelTable& kt = active_kernels();
  ThreadPool::instance().parallel_for(tasks, [&](int64_t t) {
    thread_local std::vector<float> buf;
    buf.assign(static_cast<size_t>(bordered), -INFINITY);
    float* const m = buf.data() + s.pad_left;  // m[w] for input column w
    const int p0 = static_cast<int>(t) * per_task, p1 = std::min(planes, p0 + per_task);
    for (int p = p0; p < p1; ++p)
      for (int oh = 0; oh < s.out_h; ++oh)
        pool_output_row(kt, s, 1, x + p * in_plane, m, oh, y + p * out_plane + static_cast<ptrdiff_t>(oh) * s.out_w);
  });
}

// Blocked planes: a pixel is kChannelBlock contiguous lanes, each pass whole vectors per pixel.
// One task per (plane, output row). (Per output pixel and tap, with bounds checks, it took 3x
// ORT's pooling on ResNet-50's 112x112x64.)
void maxpool2d_blocked(const float* x, float* y, int planes, const PoolShape& s, int nchw_channels) {
  constexpr int L = kChannelBlock;
  const ptrdiff_t in_plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w * L;
  const ptrdiff_t out_pixels = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  const ptrdiff_t bordered = bordered_row_floats(s, L);
  const int blocks = nchw_channels < 0 ? 1 : (nchw_channels + L - 1) / L;  // per image, for NCHW output
  const KernelTable& kt = active_kernels();
  ThreadPool::instance().parallel_for(static_cast<int64_t>(planes) * s.out_h, [&](int64_t t) {
    const int64_t p = t / s.out_h;
    const int oh = static_cast<int>(t % s.out_h);
    thread_local std::vector<float> buf, pooled;
    buf.assign(static_cast<size_t>(bordered), -INFINITY);
    float* const m = buf.data() + static_cast<ptrdiff_t>(s.pad_left) * L;  // m[w * L + l] for input column w
    const ptrdiff_t row_at = static_cast<ptrdiff_t>(oh) * s.out_w;
    if (nchw_channels < 0) return pool_output_row(kt, s, L, x + p * in_plane, m, oh, y + (p * out_pixels + row_at) * L);
    // NCHW: the pooled row [out_w][32] goes out as up to 32 channel rows, one plane apart.
    pooled.resize(static_cast<size_t>(s.out_w) * L);
    pool_output_row(kt, s, L, x + p * in_plane, m, oh, pooled.data());
    const int64_t image = p / blocks, first = p % blocks * L;
    const int lanes = static_cast<int>(std::min<int64_t>(L, nchw_channels - first));
    kt.transpose(pooled.data(), s.out_w, lanes, L, y + (image * nchw_channels + first) * out_pixels + row_at, out_pixels);
  });
}

// Means over `plane` pixels of `lanes` floats each (1 for NCHW planes, kChannelBlock for blocked
// ones), summed in double (8 partial sums for a plain plane) so a large plane keeps float32
// accuracy and the loops still vectorise. numpy's mean over ResNet-50's last activation took
// 150-200 us between two kernels, with cold caches.
void global_average_pool(const float* x, float* y, int64_t planes, int64_t plane, int lanes) {
  const int64_t per_task = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, plane * lanes));
  const double scale = plane > 0 ? 1.0 / static_cast<double>(plane) : NAN;  // an empty plane's mean: NaN, as numpy
  ThreadPool::instance().parallel_for((planes + per_task - 1) / per_task, [&](int64_t t) {
    for (int64_t p = t * per_task; p < std::min(planes, (t + 1) * per_task); ++p) {
      const float* in = x + p * plane * lanes;
      float* out = y + p * lanes;
      if (lanes == 1) {
        double part[8] = {};
        int64_t i = 0;
        for (; i + 8 <= plane; i += 8)
          for (int l = 0; l < 8; ++l) part[l] += in[i + l];
        double sum = 0.0;
        for (; i < plane; ++i) sum += in[i];
        for (int l = 0; l < 8; ++l) sum += part[l];
        out[0] = static_cast<float>(sum * scale);
        continue;
      }
      double sums[kChannelBlock] = {};  // lanes is kChannelBlock here (ops.h)
      for (int64_t i = 0; i < plane; ++i)
        for (int l = 0; l < kChannelBlock; ++l) sums[l] += in[i * kChannelBlock + l];
      for (int l = 0; l < lanes; ++l) out[l] = static_cast<float>(sums[l] * scale);
    }
  });
}

}  // namespace sr

