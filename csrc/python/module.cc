// pybind11 bindings: check every buffer Python hands over, release the GIL around native work,
// map C++ errors to Python ones. No math here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sparse_runtime/isa.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/packed.h"
#include "sparse_runtime/threadpool.h"
#include "convert.h"
#include "conv_op.h"
#include "glue_ops.h"
#include "linear_op.h"

namespace py = pybind11;
using sr::PackedMatrix;
using namespace srpy;

namespace srpy {
std::atomic<int64_t> g_native_ns{0};
}  // namespace srpy

namespace {

template <class T, class Alloc>
py::array_t<T> to_numpy(const std::vector<T, Alloc>& v) {
  py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

PackedMatrix pack(const py::array& a, const std::string& format) {
  const float* p = f32_in(a, "weight", 2);
  const auto f = sr::parse_format(format);
  const int n = static_cast<int>(a.shape(0)), k = static_cast<int>(a.shape(1));
  NativeRegion native;
  return PackedMatrix::pack(p, n, k, f);
}

PackedMatrix from_csr(int n, int k, const py::array& indptr, const py::array& indices, const py::array& data) {
  if (n < 0 || k < 0) throw py::value_error("from_csr: negative shape");
  auto ip = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(indptr);
  auto ix = py::array_t<int32_t, py::array::c_style | py::array::forcecast>::ensure(indices);
  const float* d = f32_in(data, "data", 1);
  if (!ip || ip.ndim() != 1 || ip.shape(0) != n + 1)
    throw py::value_error("from_csr: indptr must have n+1=" + std::to_string(n + 1) + " entries");
  if (!ix || ix.ndim() != 1 || ix.shape(0) != data.shape(0))
    throw py::value_error("from_csr: indices and data must have the same length");
  return PackedMatrix::from_csr(n, k, ip.data(), ix.data(), d, data.shape(0));
}

py::array to_dense(const PackedMatrix& p) {
  auto out = new_f32({p.rows(), p.cols()});
  p.to_dense(out.mutable_data());
  return out;
}

py::dict arrays(const PackedMatrix& p) {
  py::dict d;
  if (p.format() == sr::Format::kCsr) {  // plain row-order CSR, as scipy has it
    std::vector<int32_t> col;
    std::vector<float> val;
    p.csr_row_order(col, val);
    d["ptr"] = to_numpy(p.ptr());
    d["col"] = to_numpy(col);
    d["val"] = to_numpy(val);
    return d;
  }
  if (!p.ptr().empty()) d["ptr"] = to_numpy(p.ptr());
  if (!p.col().empty()) d["col"] = to_numpy(p.col());
  d["val"] = to_numpy(p.val());
  if (!p.idx().empty()) d["idx"] = to_numpy(p.idx());
  return d;
}

// C[N][m] = act(A · B + bias) with B[K][m] (channels-major), the kernels' own layout.
py::array spmm(const PackedMatrix& a, const py::array& b, const py::object& bias, const std::string& act) {
  const float* B = f32_in(b, "B", 2);
  expect_dim(b, 0, a.cols(), "B", "reduction size K of the weight");
  const float* bp = bias_in(bias, a.rows());
  const auto ac = parse_act(act);
  const int m = static_cast<int>(b.shape(1));
  auto out = new_f32({a.rows(), m});
  float* C = out.mutable_data();
  {
    NativeRegion native;
    sr::spmm({{&a, B, m, C, m, m, bp, {}}}, ac);
  }
  return out;
}

py::array linear(const PackedMatrix& a, const py::array& x, const py::object& bias, const std::string& act,
                 py::object out_obj, const py::object& residual) {
  const float* X = f32_in(x, "x", 2);
  expect_dim(x, 1, a.cols(), "x", "input features K of the weight");
  const float* bp = bias_in(bias, a.rows());
  const auto ac = parse_act(act);
  const int m = static_cast<int>(x.shape(0));
  py::array out = out_obj.is_none() ? py::array(new_f32({m, a.rows()})) : py::reinterpret_borrow<py::array>(out_obj);
  float* Y = f32_out(out, "out", 2);
  expect_dim(out, 0, m, "out", "rows of x");
  expect_dim(out, 1, a.rows(), "out", "output features N");
  const float* R = residual_in(residual, {m, a.rows()});
  if (R && R == Y) throw py::value_error("out must not be the residual array");
  if (m == 0 || a.rows() == 0) return out;
  {
    NativeRegion native;
    sr::linear(a, X, m, Y, bp, ac, R);
  }
  return out;
}

// linear with either side as token tiles ([tiles][features][64], ops.h): how two consecutive
// PackedMatMuls hand activations over without transposing them back to rows in between.
py::array linear_tiled(const PackedMatrix& a, const py::array& x, int m, bool x_tiles, bool tiles_out,
                       const py::object& bias, const std::string& act, const py::object& residual) {
  if (m < 1) throw py::value_error("linear_tiled: m (tokens) must be >= 1, got " + std::to_string(m));
  const int n = a.rows(), k = a.cols(), tiles = sr::tile_count(m);
  const float* X = f32_in(x, "x", x_tiles ? 3 : 2);
  if (x_tiles) {
    expect_dim(x, 0, tiles, "x", "token tiles of m");
    expect_dim(x, 1, k, "x", "input features K of the weight");
    expect_dim(x, 2, sr::kColumnTile, "x", "tokens per tile");
  } else {
    expect_dim(x, 0, m, "x", "tokens m");
    expect_dim(x, 1, k, "x", "input features K of the weight");
  }
  const float* bp = bias_in(bias, n);
  const auto ac = parse_act(act);
  if (tiles_out && !residual.is_none()) throw py::value_error("linear_tiled: a residual needs row-major output");
  const float* R = tiles_out ? nullptr : residual_in(residual, {m, n});
  py::array_t<float> out = tiles_out ? new_f32({tiles, n, sr::kColumnTile}) : new_f32({m, n});
  float* Y = out.mutable_data();
  {
    NativeRegion native;
    sr::linear_tiled(a, X, x_tiles, m, Y, tiles_out, bp, ac, R);
  }
  return out;
}


// C[..., M, N] = A[..., M, K] · B[..., K, N]; batch dims already broadcast by the caller, each
// operand either with a full batch or a single matrix shared by all (batch stride 0).
py::array batched_matmul(const py::array& a, const py::array& b) {
  if (a.ndim() < 2 || b.ndim() < 2) throw py::value_error("matmul: operands must be at least 2-D");
  const float* A = f32_in(a, "a", static_cast<int>(a.ndim()));
  const float* B = f32_in(b, "b", static_cast<int>(b.ndim()));
  const py::ssize_t M = a.shape(a.ndim() - 2), K = a.shape(a.ndim() - 1), N = b.shape(b.ndim() - 1);
  if (b.shape(b.ndim() - 2) != K)
    throw py::value_error("matmul: inner dimensions differ: a " + shape_str(a) + ", b " + shape_str(b));
  const py::ssize_t batch_a = a.size() / std::max<py::ssize_t>(1, M * K), batch_b = b.size() / std::max<py::ssize_t>(1, K * N);
  if (M * K == 0 || K * N == 0) throw py::value_error("matmul: empty operand");
  if (batch_a != batch_b && batch_a != 1 && batch_b != 1)
    throw py::value_error("matmul: batch sizes differ: a " + shape_str(a) + ", b " + shape_str(b));
  const py::ssize_t batch = std::max(batch_a, batch_b);
  std::vector<py::ssize_t> shape;
  const py::array& lead = batch_a >= batch_b ? a : b;
  for (py::ssize_t i = 0; i + 2 < lead.ndim(); ++i) shape.push_back(lead.shape(i));
  shape.push_back(M);
  shape.push_back(N);
  auto out = new_f32(shape);
  float* C = out.mutable_data();
  {
    NativeRegion native;
    sr::batched_matmul(A, batch_a == 1 ? 0 : M * K, B, batch_b == 1 ? 0 : K * N, C, static_cast<int>(batch),
                       static_cast<int>(M), static_cast<int>(K), static_cast<int>(N));
  }
  return out;
}

py::array maxpool2d(const py::array& x, int kernel_h, int kernel_w, const std::vector<int>& strides,
                    const std::vector<int>& pads, const std::vector<int>& dilations, int out_h, int out_w,
                    bool blocked, int nchw_channels) {
  const float* X = f32_in(x, "x", blocked ? 5 : 4);
  if (blocked) expect_dim(x, 4, sr::kChannelBlock, "x", "channels per block");
  if (nchw_channels >= 0) {
    if (!blocked) throw py::value_error("maxpool2d: nchw_channels is for a blocked input");
    expect_dim(x, 1, blocked_count(nchw_channels), "x", "channel blocks");
  }
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 2)
    throw py::value_error("maxpool2d: strides, dilations and pads (top, left) take 2 values each");
  const sr::PoolShape s{static_cast<int>(x.shape(2)), static_cast<int>(x.shape(3)), out_h, out_w, kernel_h, kernel_w,
                        strides[0], strides[1], pads[0], pads[1], dilations[0], dilations[1]};
  if (kernel_h < 1 || kernel_w < 1 || s.stride_h < 1 || s.stride_w < 1 || s.dilation_h < 1 || s.dilation_w < 1 ||
      out_h < 0 || out_w < 0)
    throw py::value_error("maxpool2d: kernel, strides and dilations must be positive, output size non-negative");
  auto out = nchw_channels >= 0 ? new_f32({x.shape(0), nchw_channels, out_h, out_w})
             : blocked             ? new_f32({x.shape(0), x.shape(1), out_h, out_w, sr::kChannelBlock})
                                   : new_f32({x.shape(0), x.shape(1), out_h, out_w});
  float* Y = out.mutable_data();
  const int planes = static_cast<int>(x.shape(0) * x.shape(1));
  {
    NativeRegion native;
    if (blocked)
      sr::maxpool2d_blocked(X, Y, planes, s, nchw_channels);
    else
      sr::maxpool2d(X, Y, planes, s);
  }
  return out;
}

// Mean over H, W of NCHW x, or of blocked x holding `channels` channels: (N, C, 1, 1).
py::array global_average_pool(const py::array& x, bool blocked, int channels) {
  const float* X = f32_in(x, "x", blocked ? 5 : 4);
  if (blocked) {
    if (channels < 0) throw py::value_error("global_average_pool: channels must be non-negative");
    expect_dim(x, 1, blocked_count(channels), "x", "channel blocks");
    expect_dim(x, 4, sr::kChannelBlock, "x", "channels per block");
  }
  const py::ssize_t n = x.shape(0), c = blocked ? channels : x.shape(1), planes = n * x.shape(1);
  const int lanes = blocked ? sr::kChannelBlock : 1;
  auto out = new_f32({n, c, 1, 1});
  float* Y = out.mutable_data();
  if (planes == 0) return out;
  std::vector<float> sums;  // blocked: every lane of every block, then the real channels
  float* dst = blocked ? (sums.resize(static_cast<size_t>(planes) * lanes), sums.data()) : Y;
  {
    NativeRegion native;
    sr::global_average_pool(X, dst, planes, x.shape(2) * x.shape(3), lanes);
  }
  if (blocked)
    for (py::ssize_t i = 0; i < n; ++i)
      std::copy(dst + i * x.shape(1) * lanes, dst + i * x.shape(1) * lanes + c, Y + i * c);
  return out;
}

py::array to_blocked(const py::array& x) {
  const float* X = f32_in(x, "x", 4);
  const py::ssize_t n = x.shape(0), c = x.shape(1), h = x.shape(2), w = x.shape(3);
  auto out = new_f32({n, blocked_count(c), h, w, sr::kChannelBlock});
  float* Y = out.mutable_data();
  if (out.size()) {
    NativeRegion native;
    sr::to_blocked(X, Y, static_cast<int>(n), static_cast<int>(c), h * w);
  }
  return out;
}

py::array from_blocked(const py::array& x, int channels) {
  const float* X = f32_in(x, "x", 5);
  if (channels < 0) throw py::value_error("from_blocked: channels must be non-negative, got " + std::to_string(channels));
  expect_dim(x, 1, blocked_count(channels), "x", "channel blocks");
  expect_dim(x, 4, sr::kChannelBlock, "x", "channels per block");
  const py::ssize_t n = x.shape(0), h = x.shape(2), w = x.shape(3);
  auto out = new_f32({n, channels, h, w});
  float* Y = out.mutable_data();
  if (out.size()) {
    NativeRegion native;
    sr::from_blocked(X, Y, static_cast<int>(n), channels, h * w);
  }
  return out;
}

// GFLOP/s of the active ISA's FMA probe on the calling thread, run for about `seconds`.
double fma_peak_gflops(double seconds) {
  if (!(seconds > 0) || seconds > 60) throw py::value_error("fma_peak_gflops: seconds must be in (0, 60]");
  const sr::KernelTable& kt = sr::active_kernels();
  const double flop_per_round = 12.0 * kt.vector_width * 2.0;
  py::gil_scoped_release nogil;
  volatile float sink = 0.f;  // keeps every probe's result alive
  auto timed = [&](int64_t rounds) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + kt.fma_probe(rounds);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  int64_t rounds = 1 << 16;
  double t = timed(rounds);
  while (t < 0.01) t = timed(rounds *= 4);  // calibrate on at least 10 ms
  rounds = std::max<int64_t>(1, static_cast<int64_t>(rounds * (seconds / 3) / t));
  double best = 0;  // best of three: a burst of noise only lowers a run
  for (int i = 0; i < 3; ++i) best = std::max(best, flop_per_round * rounds / timed(rounds) * 1e-9);
  return best;
}

// A float32 array of rank 2..4 seen as [b0][b1][rows][cols] (missing leading dims are 1), with
// strides in elements; numpy views (transposes of a head split) come through without a copy.
struct Batched4 {
  const float* p;
  py::ssize_t shape[4];
  py::ssize_t stride[4];
};

Batched4 batched4(const py::array& a, const char* what) {
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(what) + ": expected float32, got " + std::string(py::str(a.dtype())));
  if (a.ndim() < 2 || a.ndim() > 4)
    throw py::value_error(std::string(what) + ": expected a 2-D to 4-D array, got shape " + shape_str(a));
  Batched4 b{static_cast<const float*>(a.data()), {1, 1, 1, 1}, {0, 0, 0, 0}};
  const int pad = 4 - static_cast<int>(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 0) throw py::value_error(std::string(what) + ": empty array, shape " + shape_str(a));
    if (a.strides(i) % static_cast<py::ssize_t>(sizeof(float)))
      throw py::value_error(std::string(what) + ": strides must be whole floats");
    b.shape[pad + i] = a.shape(i);
    b.stride[pad + i] = a.strides(i) / static_cast<py::ssize_t>(sizeof(float));
  }
  return b;
}

// The batch stride of dim i, after checking the size broadcasts to `want` (0: broadcast).
ptrdiff_t batch_stride(const Batched4& t, int i, py::ssize_t want, const char* what) {
  if (t.shape[i] == want) return want == 1 ? 0 : t.stride[i];
  if (t.shape[i] == 1) return 0;
  throw py::value_error(std::string(what) + ": batch dimension of size " + std::to_string(t.shape[i]) +
                        " does not broadcast to " + std::to_string(want));
}

void expect_unit_row(const Batched4& t, const char* what) {
  if (t.stride[3] != 1 && t.shape[3] > 1)
    throw py::value_error(std::string(what) + ": the last axis must be contiguous (use np.ascontiguousarray)");
}

std::string batched_str(const Batched4& t) {
  std::string s = "(";
  for (int i = 0; i < 4; ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + ")";
}

// softmax(scale * Q·Kᵀ + mask) · V for operands already seen as [b0][b1][rows][cols] (`rank`: the
// highest of the operands' ranks, for the result's).
py::array attention_core(const Batched4& Q, const Batched4& KT, const Batched4& V, py::ssize_t rank,
                         const py::object& mask_obj, float scale, bool heads_last, bool merge_heads = false) {
  const int lq = static_cast<int>(Q.shape[2]), dk = static_cast<int>(Q.shape[3]);
  const int lk = static_cast<int>(KT.shape[3]), dv = static_cast<int>(V.shape[3]);
  if (KT.shape[2] != dk)
    throw py::value_error("attention: Q " + batched_str(Q) + " and Kᵀ " + batched_str(KT) + " differ in head size");
  if (V.shape[2] != lk)
    throw py::value_error("attention: Kᵀ " + batched_str(KT) + " and V " + batched_str(V) + " differ in keys");
  expect_unit_row(Q, "q");
  expect_unit_row(V, "v");
  sr::AttentionProblem p{};
  p.lq = lq, p.lk = lk, p.dk = dk, p.dv = dv, p.scale = scale;
  // Kᵀ with contiguous keys is read as it is; a transposed view of K rows is transposed per task.
  p.k_rows = KT.stride[3] != 1 && lk > 1;
  if (p.k_rows && KT.stride[2] != 1 && dk > 1)
    throw py::value_error("kt: one of its last two axes must be contiguous (use np.ascontiguousarray)");
  Batched4 M{};
  const bool has_mask = !mask_obj.is_none();
  if (has_mask && !py::isinstance<py::array>(mask_obj))  // read as an array below: screen it here
    throw py::type_error("mask: expected a float32 array or None, got " +
                         std::string(py::str(py::type::of(mask_obj).attr("__name__"))));
  if (has_mask) {
    M = batched4(py::reinterpret_borrow<py::array>(mask_obj), "mask");
    if (M.shape[3] != lk || (M.shape[2] != lq && M.shape[2] != 1))
      throw py::value_error("mask: last two dims must be (" + std::to_string(lq) + " or 1, " + std::to_string(lk) +
                            "), got shape " + shape_str(py::reinterpret_borrow<py::array>(mask_obj)));
    expect_unit_row(M, "mask");
    rank = std::max(rank, static_cast<py::ssize_t>(py::reinterpret_borrow<py::array>(mask_obj).ndim()));
  }
  for (int i = 0; i < 2; ++i) {
    const py::ssize_t want = std::max({Q.shape[i], KT.shape[i], V.shape[i], has_mask ? M.shape[i] : 1});
    (i == 0 ? p.b0 : p.b1) = static_cast<int>(want);
  }
  auto bind = [&](const Batched4& t, const char* what, ptrdiff_t row) {
    return sr::BatchedMatrix{t.p, batch_stride(t, 0, p.b0, what), batch_stride(t, 1, p.b1, what), row};
  };
  p.q = bind(Q, "q", Q.stride[2]);
  p.k = bind(KT, "kt", p.k_rows ? KT.stride[3] : KT.stride[2]);
  p.v = bind(V, "v", V.stride[2]);
  if (has_mask) p.mask = bind(M, "mask", M.shape[2] == 1 ? 0 : M.stride[2]);
  p.heads_last = heads_last;
  if (heads_last && rank != 4) throw py::value_error("attention: heads_last needs 4-D operands");
  // numpy's result rank: the operands' highest (dims it pads on the left are 1, so dropping them is exact)
  const std::vector<py::ssize_t> full = heads_last ? std::vector<py::ssize_t>{p.b0, lq, p.b1, dv}
                                                   : std::vector<py::ssize_t>{p.b0, p.b1, lq, dv};
  std::vector<py::ssize_t> out_shape(full.end() - rank, full.end());
  if (merge_heads) out_shape = {p.b0, lq, static_cast<py::ssize_t>(p.b1) * dv};  // the same memory, heads merged
  auto out = new_f32(out_shape);
  p.out = out.mutable_data();
  {
    NativeRegion native;
    sr::attention(p);
  }
  return out;
}

py::array fused_attention(const py::array& q, const py::array& kt, const py::array& v, const py::object& mask_obj,
                          float scale, bool heads_last) {
  const Batched4 Q = batched4(q, "q"), KT = batched4(kt, "kt"), V = batched4(v, "v");
  return attention_core(Q, KT, V, std::max({q.ndim(), kt.ndim(), v.ndim(), static_cast<py::ssize_t>(2)}), mask_obj,
                        scale, heads_last);
}

// Attention straight from a packed projection qkv [B, S, W] (float32, C-contiguous): head h of Q
// is qkv[:, :, q_off + h * head_dim ..+head_dim], of K and V likewise at k_off / v_off. This is what
// Split -> Reshape [B, S, H, D] -> Transpose reads, without the seven numpy views (and their
// Python between two kernels).
py::array attention_qkv(const py::array& qkv, const py::object& mask_obj, float scale, int heads, int head_dim,
                        int q_off, int k_off, int v_off, bool heads_last, bool merge_heads) {
  if (merge_heads && !heads_last) throw py::value_error("attention_qkv: merge_heads needs heads_last");
  const float* X = f32_in(qkv, "qkv", 3);
  const py::ssize_t B = qkv.shape(0), S = qkv.shape(1), W = qkv.shape(2);
  if (heads < 1 || head_dim < 1) throw py::value_error("attention_qkv: heads and head_dim must be positive");
  for (const int off : {q_off, k_off, v_off})
    if (off < 0 || off + static_cast<py::ssize_t>(heads) * head_dim > W)
      throw py::value_error("attention_qkv: " + std::to_string(heads) + " heads of " + std::to_string(head_dim) +
                            " at offset " + std::to_string(off) + " do not fit in qkv " + shape_str(qkv));
  if (B == 0 || S == 0) throw py::value_error("attention_qkv: empty qkv " + shape_str(qkv));
  auto view = [&](int off, bool transposed) {  // [B][H][S][D], or Kᵀ [B][H][D][S]
    Batched4 t{X + off, {B, heads, transposed ? head_dim : S, transposed ? S : head_dim},
               {S * W, head_dim, transposed ? 1 : W, transposed ? W : 1}};
    return t;
  };
  return attention_core(view(q_off, false), view(k_off, true), view(v_off, false), 4, mask_obj, scale, heads_last,
                        merge_heads);
}

// A float32 C-contiguous array seen as rows of its last dimension, with a new output like it.
struct Rows {
  const float* x;
  int rows, cols;
  py::array_t<float> out;
};

Rows rows_of(const py::array& x, const char* op) {
  const float* X = f32_in(x, "x", static_cast<int>(x.ndim()));
  if (x.ndim() < 1) throw py::value_error(std::string(op) + ": x must have at least one dimension");
  const py::ssize_t cols = x.shape(x.ndim() - 1);
  Rows r{X, cols ? static_cast<int>(x.size() / cols) : 0, static_cast<int>(cols),
         new_f32(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()))};
  return r;
}

py::array softmax_lastdim(const py::array& x) {
  Rows r = rows_of(x, "softmax");
  if (x.size() == 0) return r.out;
  float* Y = r.out.mutable_data();
  {
    NativeRegion native;  // scoped: the GIL is back before r.out is copied out
    sr::softmax_rows(r.x, Y, r.rows, r.cols);
  }
  return r.out;
}

py::array layernorm_lastdim(const py::array& x, const py::object& gamma, const py::object& beta, float eps) {
  Rows r = rows_of(x, "layernorm");
  const float* G = optional_vector(gamma, r.cols, "scale", "normalised size");
  const float* B = optional_vector(beta, r.cols, "bias", "normalised size");
  if (x.size() == 0) return r.out;
  float* Y = r.out.mutable_data();
  {
    NativeRegion native;  // scoped: the GIL is back before r.out is copied out
    sr::layernorm_rows(r.x, Y, r.rows, r.cols, G, B, eps);
  }
  return r.out;
}

void activation_inplace(py::array& x, const std::string& act) {
  const auto ac = parse_act(act);
  f32_in(x, "x", static_cast<int>(x.ndim()));
  if (!x.writeable()) throw py::value_error("x: array is read-only");
  float* p = static_cast<float*>(x.mutable_data());
  const ptrdiff_t n = static_cast<ptrdiff_t>(x.size());
  NativeRegion native;
  sr::activation(p, n, ac);
}

py::dict cpu_info() {
  const auto& f = sr::cpu_features();
  py::dict d;
  d["vendor"] = f.vendor;
  d["brand"] = f.brand;
  py::dict feats;
  feats["sse4_2"] = f.sse42;
  feats["avx"] = f.avx && f.os_avx;
  feats["fma"] = f.fma;
  feats["avx2"] = f.avx2 && f.os_avx;
  feats["avx512f"] = f.avx512f && f.os_avx512;
  feats["avx512bw"] = f.avx512bw && f.os_avx512;
  feats["avx512vl"] = f.avx512vl && f.os_avx512;
  feats["avx512dq"] = f.avx512dq && f.os_avx512;
  feats["avx512_vnni"] = f.avx512vnni && f.os_avx512;
  d["features"] = feats;
  d["best_isa"] = sr::isa_name(sr::best_supported_isa());
  d["isa"] = sr::isa_name(sr::active_isa());
  d["threads"] = sr::ThreadPool::instance().num_threads();
  return d;
}

py::list supported_isas() {
  py::list out;
  for (int i = 0; i <= static_cast<int>(sr::best_supported_isa()); ++i) out.append(sr::isa_name(static_cast<sr::Isa>(i)));
  return out;
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "sparse_runtime native kernels (pybind11)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  bind_linear_op(m);

  py::class_<PackedMatrix>(m, "PackedMatrix")
      .def_property_readonly("format", [](const PackedMatrix& p) { return sr::format_name(p.format()); })
      .def_property_readonly("shape", [](const PackedMatrix& p) { return py::make_tuple(p.rows(), p.cols()); })
      .def_property_readonly("nnz", &PackedMatrix::nonzeros)
      .def_property_readonly("stored", &PackedMatrix::stored)
      .def_property_readonly("nbytes", &PackedMatrix::bytes)
      .def("to_dense", &to_dense)
      .def("arrays", &arrays, "Copies of the packed arrays (ptr, col, val, idx), for inspection and tests.");

  m.def("pack", &pack, py::arg("weight"), py::arg("format"),
        "Pack a dense float32 [N outputs, K] matrix into dense|csr|bsr4x1|bsr1x4|nm24.");
  m.def("from_csr", &from_csr, py::arg("n"), py::arg("k"), py::arg("indptr"), py::arg("indices"), py::arg("data"));
  m.def("spmm", &spmm, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(), py::arg("act") = "none");
  m.def("linear", &linear, py::arg("a"), py::arg("x"), py::arg("bias") = py::none(), py::arg("act") = "none",
        py::arg("out") = py::none(), py::arg("residual") = py::none());
  bind_conv(m);
  bind_glue_ops(m);
  m.def("matmul", &batched_matmul, py::arg("a"), py::arg("b"),
        "Batched row-major float32 matmul on the native pool (batch dims pre-broadcast, or one side single).");
  m.def("attention_qkv", &attention_qkv, py::arg("qkv"), py::arg("mask"), py::arg("scale"), py::arg("heads"),
        py::arg("head_dim"), py::arg("q_off"), py::arg("k_off"), py::arg("v_off"), py::arg("heads_last") = false,
        py::arg("merge_heads") = false,
        "Attention over heads read in place from a packed projection qkv [B, S, W]: the result is [B, H, S, D],\n"
        "[B, S, H, D] with heads_last, or [B, S, H * D] with merge_heads too.");
  m.def("attention", &fused_attention, py::arg("q"), py::arg("kt"), py::arg("v"), py::arg("mask"), py::arg("scale"),
        py::arg("heads_last") = false,
        "softmax(scale * q @ kt + mask) @ v over up to two batch dims (numpy broadcasting), fused per head;\n"
        "the result is [.., lq, dv] of numpy's rank, or 4-D [b0, lq, b1, dv] with heads_last.");
  m.def("maxpool2d", &maxpool2d, py::arg("x"), py::arg("kernel_h"), py::arg("kernel_w"), py::arg("strides"),
        py::arg("pads"), py::arg("dilations"), py::arg("out_h"), py::arg("out_w"), py::arg("blocked") = false,
        py::arg("nchw_channels") = -1,
        "Max pooling of an NCHW float32 array, or a blocked one [N][C/32][H][W][32] (pads: top, left; the\n"
        "output size already resolved). A blocked input gives a blocked output, or with nchw_channels >= 0\n"
        "an NCHW one of that many channels.");
  m.def("global_average_pool", &global_average_pool, py::arg("x"), py::arg("blocked") = false, py::arg("channels") = -1,
        "Mean over H, W of an NCHW float32 array, or of a blocked one holding `channels` channels: (N, C, 1, 1).");
  m.def("to_blocked", &to_blocked, py::arg("x"),
        "NCHW float32 -> blocked [N][ceil(C/32)][H][W][32], padding channels zero.");
  m.def("from_blocked", &from_blocked, py::arg("x"), py::arg("channels"),
        "Blocked [N][ceil(C/32)][H][W][32] float32 -> NCHW with `channels` channels.");
  m.def("linear_tiled", &linear_tiled, py::arg("a"), py::arg("x"), py::arg("m"), py::arg("x_tiles"),
        py::arg("tiles_out"), py::arg("bias") = py::none(), py::arg("act") = "none", py::arg("residual") = py::none(),
        "linear with x and/or the result as token tiles [tiles][features][64] (m tokens).");
  m.def("softmax", &softmax_lastdim, py::arg("x"), "Softmax over the last axis (float32, C-contiguous).");
  m.def("layernorm", &layernorm_lastdim, py::arg("x"), py::arg("scale"), py::arg("bias"), py::arg("epsilon"),
        "Layer normalisation over the last axis with optional scale and bias.");
  m.def("activation", &activation_inplace, py::arg("x"), py::arg("act"));
  m.def("cpu_info", &cpu_info);
  m.def("fma_peak_gflops", &fma_peak_gflops, py::arg("seconds") = 0.3,
        "Measured fp32 FMA peak of one core (the calling thread) at the active ISA, GFLOP/s.");
  m.def("native_time_ns", [] { return g_native_ns.load(std::memory_order_relaxed); },
        "Nanoseconds spent in native kernels since import (all threads; GIL released).");
  m.def("supported_isas", &supported_isas);
  m.def("get_isa", [] { return std::string(sr::isa_name(sr::active_isa())); });
  m.def("set_isa", [](const std::string& name) { sr::set_isa(sr::parse_isa(name)); });
  m.def("get_num_threads", [] { return sr::ThreadPool::instance().num_threads(); });
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("threads must be >= 1, got " + std::to_string(n));
    py::gil_scoped_release nogil;
    sr::ThreadPool::instance().set_num_threads(n);
  });
}
