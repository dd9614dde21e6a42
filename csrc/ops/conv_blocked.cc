// Convolution with blocked activations ([N][ceil(C/32)][H][W][32], formats.h kChannelBlock) on
// either side, always as an implicit GEMM (conv_phases.h) on the packed dense tile:
//  - blocked input: the tile's columns are 32 floats apart and each reduction index (channel,
//    tap) one offset into the image's blocks. A 1x1 stride-1 unpadded conv reads its input in
//    place (each block is a contiguous [pixels][32] run); other convs copy it once into blocked
//    phase planes.
//  - blocked output: the tile ([pixel][32 outputs]) is already a run of the output block, so it
//    is copied out (residual summed) instead of transposed into 32 rows a plane apart.
// Between consecutive convs (ResNet) that removes the tile copies, the transposes and the
// scattered stores of the NCHW path.
#include <algorithm>
#include <vector>

#include "sparse_runtime/ops.h"
#include "sparse_runtime/scratch.h"
#include "sparse_runtime/threadpool.h"
#include "conv_phases.h"

namespace sr {
namespace {

int blocks_of(int channels) { return (channels + kChannelBlock - 1) / kChannelBlock; }

bool reads_in_place(const ConvShape& s) {
  return s.x_blocked && s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.out_h == s.in_h && s.out_w == s.in_w;
}

// Where the implicit GEMM reads B for one image: base, its per-image stride, the offsets, and
// the virtual column geometry.
struct BlockedB {
  const float* base = nullptr;
  ptrdiff_t image_floats = 0;
  std::vector<int32_t> offsets;
  int pitch = 0, valid = 0, columns = 0;
};

BlockedB in_place_b(const ConvShape& s, const float* x) {
  BlockedB b;
  const ptrdiff_t plane = static_cast<ptrdiff_t>(s.in_h) * s.in_w;
  b.base = x;
  b.image_floats = blocks_of(s.in_channels) * plane * kChannelBlock;
  b.offsets.resize(static_cast<size_t>(s.in_channels));
  for (int c = 0; c < s.in_channels; ++c)
    b.offsets[static_cast<size_t>(c)] = static_cast<int32_t>(c / kChannelBlock * plane * kChannelBlock + c % kChannelBlock);
  b.pitch = b.valid = b.columns = static_cast<int>(plane);  // one "row": no gaps
  return b;
}

// The input copied into phase planes (blocked ones for a blocked input) in the scratch.
BlockedB phase_b(const ConvShape& s, const PhaseLayout& l, std::vector<int32_t> offsets, const float* x) {
  BlockedB b;
  const int lanes = s.x_blocked ? kChannelBlock : 1;
  const int units = s.x_blocked ? blocks_of(s.in_channels) : s.in_channels;  // per image
  const ptrdiff_t in_unit = static_cast<ptrdiff_t>(s.in_h) * s.in_w * lanes;
  const ptrdiff_t unit_floats = l.plane * l.phases * lanes;
  thread_local Scratch phase_buf;
  float* phases = phase_buf.floats(static_cast<size_t>(unit_floats) * units * s.batch);
  ThreadPool::instance().parallel_for(static_cast<int64_t>(s.batch) * units, [&](int64_t u) {
    fill_phases(s, l, x + u * in_unit, phases + u * unit_floats, lanes);
  });
  b.base = phases;
  b.image_floats = unit_floats * units;
  b.offsets = std::move(offsets);
  b.pitch = l.pitch;
  b.valid = s.out_w;
  b.columns = l.columns;
  return b;
}

}  // namespace

bool blocked_conv_supported(const std::vector<const PackedMatrix*>& weights, const ConvShape& s) {
  if (weights.size() != 1 || weights[0]->format() != Format::kDense) return false;
  const int64_t plane = static_cast<int64_t>(s.in_h) * s.in_w;
  if (reads_in_place(s)) return blocks_of(s.in_channels) * plane * kChannelBlock <= INT32_MAX;
  const PhaseLayout l = phase_layout(s);
  return l.pitch != 0 && (!s.x_blocked || !blocked_phase_offsets(s, l).empty());
}

void conv2d_blocked(const PackedMatrix& w, const ConvShape& s, const float* x, float* y, const float* bias, Act act,
                    const float* residual) {
  BlockedB b;
  if (reads_in_place(s)) {
    b = in_place_b(s, x);
  } else {
    const PhaseLayout l = phase_layout(s);
    b = phase_b(s, l, s.x_blocked ? blocked_phase_offsets(s, l) : l.offsets, x);
  }
  const ptrdiff_t out_plane = static_cast<ptrdiff_t>(s.out_h) * s.out_w;
  const ptrdiff_t ldc = s.y_blocked ? out_plane * kChannelBlock : out_plane;
  const ptrdiff_t out_image = s.y_blocked ? blocks_of(s.out_channels) * ldc : s.out_channels * ldc;
  std::vector<SpmmProblem> problems;
  for (int image = 0; image < s.batch; ++image) {
    SpmmProblem p{&w, b.base + image * b.image_floats, 0, y + image * out_image, ldc, b.columns, bias, {}};
    if (residual) {
      p.residual = residual + image * out_image;
      p.ldr = ldc;
    }
    p.b_offsets = b.offsets.data();
    p.pitch = b.pitch;
    p.valid = b.valid;
    p.b_column_stride = s.x_blocked ? kChannelBlock : 1;
    p.c_blocked = s.y_blocked;
    problems.push_back(p);
  }
  spmm(problems, act);
}

}  // namespace sr
