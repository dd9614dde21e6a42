// Phase-plane layout of the implicit-GEMM convolution: see conv_phases.h.
#include "conv_phases.h"

#include <algorithm>
#include <climits>
#include <cstring>

namespace sr {
namespace {

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Input pixels along one axis in phase r of stride s: ceil((n - r) / s).
int phase_extent(int n, int r, int s) { return std::max(0, (n - r + s - 1) / s); }

}  // namespace

PhaseLayout phase_layout(const ConvShape& s) {
  PhaseLayout l;
  const int sh = s.stride_h, sw = s.stride_w;
  // Phase rows / columns of the taps, relative to the output pixel: dy = i * dh - pad_top.
  const int qi_min = floor_div(-s.pad_top, sh), qi_max = floor_div((s.kernel_h - 1) * s.dilation_h - s.pad_top, sh);
  const int qj_min = floor_div(-s.pad_left, sw), qj_max = floor_div((s.kernel_w - 1) * s.dilation_w - s.pad_left, sw);
  int data_w = 0;
  for (int rw = 0; rw < sw; ++rw) data_w = std::max(data_w, phase_extent(s.in_w, rw, sw));
  const int gap_left = std::max(0, -qj_min);
  // Columns up to Wo - 1 + qj_max must stay inside a row; the left reach must fall in the gap.
  const int64_t pitch = std::max<int64_t>({static_cast<int64_t>(data_w) + gap_left,
                                           static_cast<int64_t>(s.out_w) + qj_max, s.out_w});
  l.first_row = qi_min;
  l.lead = gap_left;
  l.phases = sh * sw;
  const int64_t rows = static_cast<int64_t>(s.out_h) + qi_max - qi_min;
  const int64_t plane = gap_left + rows * pitch;
  const int cig = s.in_channels / s.groups;
  if (plane * l.phases * cig > INT32_MAX || static_cast<int64_t>(s.out_h) * pitch > INT32_MAX) return l;
  l.pitch = static_cast<int>(pitch);
  l.plane = plane;
  l.columns = (s.out_h - 1) * l.pitch + s.out_w;
  l.phase_used.assign(static_cast<size_t>(l.phases), 0);
  l.offsets.resize(static_cast<size_t>(cig) * s.kernel_h * s.kernel_w);
  for (int c = 0; c < cig; ++c)
    for (int i = 0; i < s.kernel_h; ++i)
      for (int j = 0; j < s.kernel_w; ++j) {
        const int dy = i * s.dilation_h - s.pad_top, dx = j * s.dilation_w - s.pad_left;
        const int qi = floor_div(dy, sh), qj = floor_div(dx, sw);
        const int phase = (dy - qi * sh) * sw + (dx - qj * sw);
        l.phase_used[static_cast<size_t>(phase)] = 1;
        const int64_t offset = (static_cast<int64_t>(c) * l.phases + phase) * plane + gap_left +
                               static_cast<int64_t>(qi - qi_min) * pitch + qj;
        l.offsets[static_cast<size_t>((c * s.kernel_h + i) * s.kernel_w + j)] = static_cast<int32_t>(offset);
      }
  return l;
}

void fill_phases(const ConvShape& s, const PhaseLayout& l, const float* channel, float* dst, int lanes) {
  const int sh = s.stride_h, sw = s.stride_w;
  const ptrdiff_t pitch = static_cast<ptrdiff_t>(l.pitch) * lanes;
  for (int phase = 0; phase < l.phases; ++phase) {
    if (!l.phase_used[static_cast<size_t>(phase)]) continue;
    const int rh = phase / sw, rw = phase % sw;
    const int width = phase_extent(s.in_w, rw, sw);
    float* out = dst + phase * l.plane * lanes;
    std::memset(out, 0, sizeof(float) * l.lead * lanes);
    out += l.lead * lanes;
    const int rows = static_cast<int>((l.plane - l.lead) / l.pitch);
    for (int r = 0; r < rows; ++r, out += pitch) {
      const int ih = (l.first_row + r) * sh + rh;
      ptrdiff_t n = 0;
      if (ih >= 0 && ih < s.in_h) {
        const float* in = channel + (static_cast<ptrdiff_t>(ih) * s.in_w + rw) * lanes;
        n = static_cast<ptrdiff_t>(width) * lanes;
        if (sw == 1)
          std::memcpy(out, in, sizeof(float) * n);
        else if (lanes == 1)
          for (int c = 0; c < width; ++c) out[c] = in[c * sw];
        else
          for (int c = 0; c < width; ++c) std::memcpy(out + c * lanes, in + c * sw * lanes, sizeof(float) * lanes);
      }
      std::memset(out + n, 0, sizeof(float) * (pitch - n));
    }
  }
}

std::vector<int32_t> blocked_phase_offsets(const ConvShape& s, const PhaseLayout& l) {
  const int cig = s.in_channels / s.groups, kk = s.kernel_h * s.kernel_w;
  const int64_t channel_floats = l.plane * l.phases;  // one channel's phase planes, in pixels
  const int64_t blocks = (cig + kChannelBlock - 1) / kChannelBlock;
  if (blocks * channel_floats * kChannelBlock > INT32_MAX) return {};
  std::vector<int32_t> out(l.offsets.size());
  for (int c = 0; c < cig; ++c)
    for (int t = 0; t < kk; ++t) {
      const int64_t tap = l.offsets[static_cast<size_t>(c * kk + t)] - c * channel_floats;  // phase and position
      out[static_cast<size_t>(c * kk + t)] = static_cast<int32_t>(
          (c / kChannelBlock) * channel_floats * kChannelBlock + tap * kChannelBlock + c % kChannelBlock);
    }
  return out;
}

}  // namespace sr
