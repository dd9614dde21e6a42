// Op layer: tiling and threading around the microkernels. All entry points run on the process's
// one thread pool with the active ISA's kernel table; callers have validated shapes already.
#pragma once
#include <cstddef>
#include <vector>

#include "sparse_runtime/formats.h"
#include "sparse_runtime/packed.h"

namespace sr {

// Columns (tokens or pixels) per task: 4 AVX-512 vectors. linear() lays its transposed input out
// in tiles of this width, so each task's activations are one contiguous block.
constexpr int kColumnTile = 64;

// One independent product C[N][m] = act(A · B + bias), channels-major (formats.h, item 2).
struct SpmmProblem {
  const PackedMatrix* a;  // null: use `plain`, an unpacked row-major A (batched MatMul)
  const float* B;
  ptrdiff_t ldb;
  float* C;
  ptrdiff_t ldc;
  int m;
  const float* bias;
  DenseView plain;
  const float* residual = nullptr;  // added before the activation; laid out like C, stride ldr
  ptrdiff_t ldr = 0;
  // Row-major output instead of C: a task keeps its block of C in scratch and stores it transposed,
  // Y[j][n] at rows_out[j * ld_out + n], while it is still in cache. `residual` is then laid out
  // like Y (stride ldr) and added, with the activation, after the transpose.
  float* rows_out = nullptr;
  ptrdiff_t ld_out = 0;
  // Implicit GEMM (packed A, not with rows_out): B is ShiftedB::base and m counts its virtual
  // columns; C and residual start at the output plane's first pixel (kernels.h, ShiftedB). Sparse
  // formats (NCHW only): each task copies its column tile of B into an aligned block, and its
  // virtual columns go to C run by run.
  const int32_t* b_offsets = nullptr;
  int pitch = 0, valid = 0;
  // Blocked activations (formats.h, kChannelBlock), implicit GEMM only: B's columns are
  // b_column_stride floats apart, and with c_blocked C and the residual are blocked, ldc / ldr the
  // floats per channel block.
  int b_column_stride = 1;
  bool c_blocked = false;
};

// Runs all problems in one parallel region, each split into balanced (column tile x row chunk) tasks.
void spmm(const std::vector<SpmmProblem>& problems, Act act);

// 2-D pooling window geometry (pads already resolved: out_h / out_w include ceil_mode).
struct PoolShape {
  int in_h, in_w, out_h, out_w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
};

// Max pooling of `planes` contiguous NCHW planes (N*C of them); a NaN in a window wins, as in numpy.
void maxpool2d(const float* x, float* y, int planes, const PoolShape& s);
// The same over blocked planes ([H][W][kChannelBlock] each, N*ceil(C/32) of them). y is blocked
// too, or with nchw_channels >= 0 NCHW [N][nchw_channels][out_h][out_w] (each pooled row
// transposed on its way out, no pass over a blocked result).
void maxpool2d_blocked(const float* x, float* y, int planes, const PoolShape& s, int nchw_channels = -1);
// y[p][l] = mean over the plane's pixels i of x[p][i][l], for `planes` planes of `plane` pixels of
// `lanes` floats (1: NCHW planes; kChannelBlock: blocked ones).
void global_average_pool(const float* x, float* y, int64_t planes, int64_t plane, int lanes);

// One problem, all its rows and columns, on the calling thread (a pool task that prepared B itself).
void spmm_on_this_thread(const SpmmProblem& problem, Act act);

// Token tiles: a row-major [m][k] activation seen channels-major as tile_count(m) blocks of
// [k][kColumnTile] (block t holds tokens 64t.., the last block's columns past m unused). This is
// how linear feeds the kernels, and how two consecutive linears hand over without transposing.
inline int tile_count(int m) { return (m + kColumnTile - 1) / kColumnTile; }

// act(X · Aᵀ + bias) for m tokens with X and/or Y as token tiles ([tiles][K][64] / [tiles][N][64])
// or row-major ([m][K] / [m][N]); `residual` (row-major like Y, only with row-major Y) may be null.
void linear_tiled(const PackedMatrix& a, const float* x, bool x_tiles, int m, float* y, bool y_tiles,
                  const float* bias, Act act, const float* residual);

// Y[M][N] = act(X[M][K] · Aᵀ + bias) for row-major X and Y (a MatMul whose weight W = Aᵀ).
// `residual` (row-major like Y, may be null) is added before the activation.
void linear(const PackedMatrix& a, const float* x, int m, float* y, const float* bias, Act act,
            const float* residual = nullptr);

struct ConvShape {
  int batch, in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w, groups;
  // Blocked ([N][ceil(C/32)][H][W][32], formats.h kChannelBlock) input x and/or output y (the
  // residual then blocked too): one group of packed dense weights only (blocked_conv_supported).
  bool x_blocked = false, y_blocked = false;
};

// Whether conv2d takes blocked input or output for these weights: one group, packed dense, and a
// geometry whose phase planes int32 offsets reach.
bool blocked_conv_supported(const std::vector<const PackedMatrix*>& weights, const ConvShape& s);

// NCHW <-> blocked ([N][ceil(C/32)][H][W][32]) activations of `plane` = H * W pixels per channel;
// to_blocked zeroes the padding channels of the last block.
void to_blocked(const float* x, float* y, int batch, int channels, ptrdiff_t plane);
void from_blocked(const float* x, float* y, int batch, int channels, ptrdiff_t plane);

// Convolution of NCHW (or, with ConvShape::x_blocked / y_blocked, blocked) activations; weights[g]
// is group g's [Co/g][Ci/g * kh * kw] matrix.
void conv2d(const std::vector<const PackedMatrix*>& weights, const ConvShape& s, const float* x,
            float* y, const float* bias, Act act, const float* residual = nullptr);

// C[b] = A[b] · B[b] for row-major A[b] (M x K), B[b] (K x N), C[b] (M x N); a batch stride of 0
// broadcasts that operand. Activation x activation products (attention) run here, not in BLAS,
// so numpy's thread pool never competes with ours.
void batched_matmul(const float* A, ptrdiff_t stride_a, const float* B, ptrdiff_t stride_b, float* C,
                    int batch, int M, int K, int N);

// Matrices under up to two batch dims, unit stride inside a row: element [i0][i1][r][c] is at
// p[i0*s0 + i1*s1 + r*row + c]. A stride of 0 broadcasts that dim (numpy's rules).
struct BatchedMatrix {
  const float* p = nullptr;
  ptrdiff_t s0 = 0, s1 = 0, row = 0;
  const float* at(int i0, int i1) const { return p + i0 * s0 + i1 * s1; }
};

// out[i0][i1] = softmax(scale * Q·Kᵀ + mask) · V for every batch pair, fused per task (one head
// and a tile of query rows): scores live in the task's L1/L2 scratch, never in memory.
struct AttentionProblem {
  int b0, b1, lq, lk, dk, dv;
  BatchedMatrix q;     // [lq][dk]
  BatchedMatrix k;     // k_rows ? K as [lk][dk] rows : Kᵀ as [dk][lk]
  bool k_rows;
  BatchedMatrix v;     // [lk][dv]
  BatchedMatrix mask;  // [lq][lk], row stride 0 for one row shared by all queries; p null: none
  float scale;
  float* out;  // contiguous [b0][b1][lq][dv], or [b0][lq][b1][dv] with heads_last
  bool heads_last = false;  // heads merged back into rows, as Transpose(0, 2, 1, 3) would
};
void attention(const AttentionProblem& p);

// dst[c][r] = src[r][c] for a rows x cols matrix, in parallel tiles.
void transpose(const float* src, int rows, int cols, ptrdiff_t lds, float* dst, ptrdiff_t ldd);

void activation(float* x, ptrdiff_t count, Act act);

// out[i] = table[index[i]] for `count` rows of `row_bytes` bytes of a table of `rows` rows; an
// index may be negative (counted from the end) and is already checked to be in [-rows, rows).
void gather_rows(const char* table, int64_t rows, int64_t row_bytes, const int64_t* index, int64_t count, char* out);

// y = a + b over `count` floats.
void add(const float* a, const float* b, float* y, int64_t count);

// Softmax / layer normalisation of each of `rows` contiguous rows of `cols` floats.
void softmax_rows(const float* x, float* y, int rows, int cols);
void layernorm_rows(const float* x, float* y, int rows, int cols, const float* gamma, const float* beta,
                    float eps);

}  // namespace sr
