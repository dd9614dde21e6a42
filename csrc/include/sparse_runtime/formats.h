// Packed weight formats and the views the microkernels read.
//
// Layout contract (every format):
//  1. The packed matrix is A[N][K]: N outputs (rows) by K reduction elements (columns). A MatMul
//     weight W[K][N] is packed transposed; a Conv weight [Co][Ci/g][kh][kw] is packed per group as
//     [Co/g][Ci/g*kh*kw].
//  2. Kernels compute C[n][j] = act(sum_k A[n][k] * B[k][j] + bias[n]) for 0 <= j < m, with B and C
//     row-major and row strides ldb / ldc in floats ("channels-major": each k holds a contiguous run
//     of m tokens or pixels, so one broadcast weight multiplies a whole vector of activations).
//  3. Indices are validated at pack time: 0 <= col < K, row pointers non-decreasing. They are
//     int32, except CSR's column within its panel (uint16, item 4).
//  4. CSR:      k-panelled: the nonzeros are grouped by panels of kblock consecutive k (panel p
//               covers k in [p*kblock, (p+1)*kblock)), then by row. panel_ptr[p*(N+1) + r] is
//               where row r's nonzeros of panel p start in col[] / val[]; col holds k - p*kblock
//               as uint16 (kblock <= 65536): 6 bytes per nonzero instead of 8, a quarter less to
//               stream for a one-token layer, which memory bandwidth bounds. A panel's
//               activations (kblock x 64 columns) stay in L1 while every row of a task passes over
//               them; partial sums go through C between panels.
//  5. BSR 4x1:  blocks of 4 consecutive outputs x 1 k; block row r covers outputs 4r..4r+3
//               (rows past N are zero). blk_ptr[ceil(N/4)+1], blk_col[nb], val[nb*4] (output-minor).
//  6. BSR 1x4:  blocks of 1 output x 4 consecutive k starting at a multiple of 4; needs K % 4 == 0.
//               row_ptr[N+1], blk_col[nb] (= first k), val[nb*4].
//  7. N:M 2:4:  every group of 4 consecutive k of a row holds at most 2 nonzeros; K % 4 == 0.
//               val[N][K/2], idx[N][K/2] (offset 0..3 of the value inside its group).
//  8. Dense:    panels of 32 outputs: panel[p][k][r] = A[32p + r][k], zero past N. Unpacked
//               row-major A (activations of a batched MatMul) is read in place instead.
#pragma once
#include <cstddef>
#include <cstdint>

namespace sr {

enum class Act : int { kNone = 0, kRelu = 1, kGeluErf = 2, kGeluTanh = 3 };

enum class Format : int { kDense = 0, kCsr = 1, kBsr4x1 = 2, kBsr1x4 = 3, kNm24 = 4 };

// Applied as each output is stored: act(sum + bias[n] + residual[n][j]).
struct Epilogue {
  const float* bias;  // indexed by output row n; may be null
  Act act;
  const float* residual = nullptr;  // laid out like C with row stride ldr; may be null
  ptrdiff_t ldr = 0;
};

struct CsrView {
  int n, k;
  int panels;  // ceil(k / kblock)
  int kblock;  // k per panel (all but the last)
  const int32_t* panel_ptr;  // panels * (n + 1)
  const uint16_t* col;  // k within the panel: k = pn * kblock + col
  const float* val;
};

struct Bsr4x1View {
  int n, k;
  const int32_t* blk_ptr;
  const int32_t* blk_col;
  const float* val;
};

struct Bsr1x4View {
  int n, k;
  const int32_t* row_ptr;
  const int32_t* blk_col;
  const float* val;
};

struct Nm24View {
  int n, k;
  const float* val;
  const uint8_t* idx;
};

struct DenseView {
  int n, k;
  const float* a;  // panels (lda == 0) or a row-major matrix with row stride lda
  ptrdiff_t lda;
};

constexpr int kDensePanel = 32;  // outputs per packed panel: the dense tile's vector lanes
// Channels per block of a blocked activation ([N][ceil(C/32)][H][W][32], "NCHW32c"): one dense
// panel, so a tile's 32 outputs of a pixel are one contiguous run of the next layer's input.
constexpr int kChannelBlock = kDensePanel;
constexpr int kBsrRows = 4;

}  // namespace sr
