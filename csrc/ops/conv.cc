// NCHW convolution on the spmm kernels: the output of one image and group is C[Co/g][Ho·Wo] =
// A[Co/g][Ci/g·kh·kw] · B[Ci/g·kh·kw][Ho·Wo], already channels-major. A 1x1, stride-1, unpadded
// convolution reads the input in place; others first gather B (im2col) into scratch.
#include <algorithm>
#include <cstring>
#include <vector>

#include "sparse_runtime/ops.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

constexpr size_t kMaxScratchFloats = size_t(16) << 20;  // 64 MiB of im2col per round of images

bool reads_input_in_place(const ConvShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_top == 0 && s.pad_left == 0;
}

// One row of B: input channel c of the image, kernel offset (i, j), every output pixel.
void im2col_row(const ConvShape& s, const float* image_channel, int i, int j, float* row) {
  const int oh_count = s.out_h, ow_count = s.out_w;
  for (int oh = 0; oh < oh_count; ++oh) {
    float* out = row + static_cast<ptrdiff_t>(oh) * ow_count;
    const int ih = oh * s.stride_h - s.pad_top + i * s.dilation_h;
    if (ih < 0 || ih >= s.in_h) {
      std::memset(out, 0, sizeof(float) * ow_count);
      continue;
    }
    const float* in = image_channel + static_cast<ptrdiff_t>(ih) * s.in_w;
    const int shift = j * s.dilation_w - s.pad_left;
    for (int ow = 0; ow < ow_count; ++ow) {
      const int iw = ow * s.stride_w + shift;
      out[ow] = (iw >= 0 && iw < s.in_w) ? in[iw] : 0.f;
    }
  }
}

}  // namespace

void conv2d(const std::vector<const PackedMatrix*>& weights, const ConvShape& s, const float* x,
            float* y, const float* bias, Act act, const float* residual) {
  const int G = s.groups, cig = s.in_channels / G, cog = s.out_channels / G;
  const int kk = s.kernel_h * s.kernel_w, kg = cig * kk;
  const ptrdiff_t in_plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w;
  const ptrdiff_t out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  const bool direct = reads_input_in_place(s);
  const ptrdiff_t col_ld = aligned_stride(out_plane);  // im2col rows start on cache lines
  const size_t per_image = direct ? 0 : static_cast<size_t>(G) * kg * col_ld;
  const int images_per_round =
      direct ? s.batch : static_cast<int>(std::max<size_t>(1, kMaxScratchFloats / std::max<size_t>(1, per_image)));
  thread_local Scratch col_buf;

  for (int b0 = 0; b0 < s.batch; b0 += images_per_round) {
    const int nb = std::min(images_per_round, s.batch - b0);
    float* cols = nullptr;
    if (!direct) {
      cols = col_buf.floats(per_image * nb);
      // Parallel over (image, input channel of all groups): each fills kh*kw rows of B.
      const int64_t jobs = static_cast<int64_t>(nb) * s.in_channels;
      ThreadPool::instance().parallel_for(jobs, [&](int64_t t) {
        const int b = static_cast<int>(t / s.in_channels), c = static_cast<int>(t % s.in_channels);
        const int g = c / cig, cl = c % cig;
        const float* channel = x + (static_cast<ptrdiff_t>(b0 + b) * s.in_channels + c) * in_plane;
        float* group_cols = cols + (static_cast<size_t>(b) * G + g) * kg * col_ld;
        for (int i = 0; i < s.kernel_h; ++i)
          for (int j = 0; j < s.kernel_w; ++j)
            im2col_row(s, channel, i, j, group_cols + static_cast<ptrdiff_t>(cl * kk + i * s.kernel_w + j) * col_ld);
      });
    }
    std::vector<SpmmProblem> problems;
    problems.reserve(static_cast<size_t>(nb) * G);
    for (int b = 0; b < nb; ++b)
      for (int g = 0; g < G; ++g) {
        const float* B = direct ? x + (static_cast<ptrdiff_t>(b0 + b) * s.in_channels + g * cig) * in_plane
                                : cols + (static_cast<size_t>(b) * G + g) * kg * col_ld;
        float* C = y + (static_cast<ptrdiff_t>(b0 + b) * s.out_channels + g * cog) * out_plane;
        problems.push_back({weights[g], B, direct ? out_plane : col_ld, C, out_plane, static_cast<int>(out_plane),
                            bias ? bias + g * cog : nullptr, {}});
        if (residual) {  // same NCHW layout as y
          problems.back().residual = residual + (C - y);
          problems.back().ldr = out_plane;
        }
      }
    spmm(problems, act);
  }
}

}  // namespace sr
