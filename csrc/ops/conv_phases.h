// The input layout of the implicit-GEMM convolution (conv.cc): every output pixel reads each kernel
// tap at one fixed offset from its own position, so B is read in place, with no im2col.
//
// Each input channel is split into stride_h x stride_w phase planes (phase (rh, rw) holds input
// pixels (stride_h * r + rh, stride_w * c + rw) at row r, column c); a stride-1 convolution has one.
// A tap at (dy, dx) from an output pixel's top-left input pixel (padding included) lands in phase
// (dy mod sh, dx mod sw), (dy div sh, dx div sw) phase pixels from the output pixel's own
// position. Rows of a phase plane are `pitch` floats: the data, then zeros that serve as the right
// padding of that row and the left padding of the next. Output pixel (oh, ow) is virtual column
// v = oh * pitch + ow, and every tap reads B at v + offset[tap]: consecutive columns are
// consecutive output pixels, a row's pitch - Wo extra ones included (computed, then dropped).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sparse_runtime/ops.h"

namespace sr {

struct PhaseLayout {
  int pitch = 0;         // 0: the shape does not fit (pitch would exceed what int32 offsets reach)
  int columns = 0;       // virtual output columns: (Ho - 1) * pitch + Wo
  int phases = 1;        // stride_h * stride_w planes per input channel
  ptrdiff_t plane = 0;   // floats per phase plane
  int first_row = 0;     // phase row of the plane's first stored row (negative: top padding)
  int lead = 0;          // zeros before that row: the left padding of its first pixel
  std::vector<int32_t> offsets;   // per reduction index (channel, i, j) of one group's weights
  std::vector<char> phase_used;   // phases some tap reads (a 1x1 stride-2 conv reads one of four)
};

PhaseLayout phase_layout(const ConvShape& s);

// Channel `channel` of one image (in_h x in_w pixels of `lanes` floats: 1, or kChannelBlock for a
// block of a blocked input) into its phase planes at dst (layout.phases * layout.plane pixels;
// unused phases are left untouched).
void fill_phases(const ConvShape& s, const PhaseLayout& l, const float* channel, float* dst, int lanes = 1);

// The offsets of `l` for a blocked input of one image, whose channel blocks each hold their phase
// planes ([block][phase][plane][kChannelBlock]); empty when they exceed int32.
std::vector<int32_t> blocked_phase_offsets(const ConvShape& s, const PhaseLayout& l);

// conv2d with a blocked input and/or output (ConvShape::x_blocked / y_blocked; conv_blocked.cc),
// for one group of packed dense weights where blocked_conv_supported.
void conv2d_blocked(const PackedMatrix& w, const ConvShape& s, const float* x, float* y, const float* bias, Act act,
                    const float* residual);

}  // namespace sr
