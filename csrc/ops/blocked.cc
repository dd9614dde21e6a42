// Conversions between NCHW and blocked ([N][ceil(C/32)][H][W][32], formats.h kChannelBlock)
// activations: per channel block a [channels][plane] <-> [plane][32] block transpose on the
// ISA's 8x8 kernel, in parallel over (image, block, chunk of pixels). Padding channels are zero.
#include <algorithm>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/threadpool.h"

namespace sr {
namespace {

constexpr ptrdiff_t kPixelsPerJob = 1024;  // 128 KB of a block: enough work per task

template <class Fn>
void for_each_chunk(int batch, int channels, ptrdiff_t plane, Fn fn) {
  const int blocks = (channels + kChannelBlock - 1) / kChannelBlock;
  const int64_t chunks = std::max<int64_t>(1, (plane + kPixelsPerJob - 1) / kPixelsPerJob);
  ThreadPool::instance().parallel_for(static_cast<int64_t>(batch) * blocks * chunks, [&](int64_t job) {
    const ptrdiff_t p0 = job % chunks * kPixelsPerJob, p1 = std::min(plane, p0 + kPixelsPerJob);
    const int64_t image_block = job / chunks;  // image * blocks + block
    const int block = static_cast<int>(image_block % blocks), image = static_cast<int>(image_block / blocks);
    const int c0 = block * kChannelBlock, n = std::min(kChannelBlock, channels - c0);
    if (p1 > p0) fn(image, c0, n, image_block * plane * kChannelBlock, p0, static_cast<int>(p1 - p0));
  });
}

}  // namespace

void to_blocked(const float* x, float* y, int batch, int channels, ptrdiff_t plane) {
  const KernelTable& kt = active_kernels();
  for_each_chunk(batch, channels, plane, [&](int image, int c0, int n, ptrdiff_t block_at, ptrdiff_t p0, int pixels) {
    const float* src = x + (static_cast<ptrdiff_t>(image) * channels + c0) * plane + p0;
    float* dst = y + block_at + p0 * kChannelBlock;
    kt.transpose(src, n, pixels, plane, dst, kChannelBlock);
    if (n < kChannelBlock)
      for (int p = 0; p < pixels; ++p) std::fill(dst + p * kChannelBlock + n, dst + (p + 1) * kChannelBlock, 0.f);
  });
}

void from_blocked(const float* x, float* y, int batch, int channels, ptrdiff_t plane) {
  const KernelTable& kt = active_kernels();
  for_each_chunk(batch, channels, plane, [&](int image, int c0, int n, ptrdiff_t block_at, ptrdiff_t p0, int pixels) {
    float* dst = y + (static_cast<ptrdiff_t>(image) * channels + c0) * plane + p0;
    kt.transpose(x + block_at + p0 * kChannelBlock, pixels, n, kChannelBlock, dst, plane);
  });
}

}  // namespace sr
