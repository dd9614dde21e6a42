// Convolution bindings: the checked free function `conv2d`, and ConvOp, a PackedConv bound once
// when the plan is built. Both share conv_shape, which checks the weights against the input and
// works out the output. Through the free function a ResNet-50 conv spent about 20 us per call
// outside the kernels (converting a list of weights, sequences of ints and the activation's name
// on every call, and the Python wrapper around it, all with cold caches after the previous conv);
// ConvOp converts only the activations.
//
// ConvOp.run returns None when the activations do not fit (another dtype or rank, channels that
// do not match, a residual of another shape): the caller then takes the free function, which
// words the errors for the user.
#include "conv_op.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "convert.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/packed.h"

namespace srpy {
namespace {

// What does not change between calls: kernel, strides, pads, dilations, layouts.
struct ConvGeometry {
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool x_blocked = false, y_blocked = false;
};

int checked_int(py::handle seq, size_t i, const char* what, bool allow_zero) {
  const int v = py::cast<int>(seq[py::int_(i)]);
  if (v < 0 || (!allow_zero && v == 0))
    throw py::value_error(std::string("conv2d: ") + what + " must be " + (allow_zero ? "non-negative" : "positive") +
                          ", got " + std::to_string(v));
  return v;
}

ConvGeometry geometry(int kernel_h, int kernel_w, const py::sequence& strides, const py::sequence& pads,
                      const py::sequence& dilations, bool x_blocked, bool y_blocked) {
  if (kernel_h < 1 || kernel_w < 1) throw py::value_error("conv2d: kernel size must be positive");
  if (py::len(strides) != 2 || py::len(dilations) != 2 || py::len(pads) != 4)
    throw py::value_error("conv2d: strides and dilations take 2 values, pads 4 (top, left, bottom, right)");
  ConvGeometry g;
  g.kernel_h = kernel_h;
  g.kernel_w = kernel_w;
  g.stride_h = checked_int(strides, 0, "stride", false);
  g.stride_w = checked_int(strides, 1, "stride", false);
  g.dilation_h = checked_int(dilations, 0, "dilation", false);
  g.dilation_w = checked_int(dilations, 1, "dilation", false);
  g.pad_top = checked_int(pads, 0, "pad", true);
  g.pad_left = checked_int(pads, 1, "pad", true);
  g.pad_bottom = checked_int(pads, 2, "pad", true);
  g.pad_right = checked_int(pads, 3, "pad", true);
  g.x_blocked = x_blocked;
  g.y_blocked = y_blocked;
  return g;
}

// The convolution of x (float32 of the layout's rank, checked by the caller) by `weights`, or the
// reason it does not fit.
std::string conv_shape(const std::vector<const sr::PackedMatrix*>& weights, const ConvGeometry& g, const py::array& x,
                       sr::ConvShape& s) {
  const int G = static_cast<int>(weights.size());
  if (G < 1) return "conv2d: no weight groups";
  const int kk = g.kernel_h * g.kernel_w;
  s = sr::ConvShape{};
  s.batch = static_cast<int>(x.shape(0));
  // A blocked x ([N][ceil(C/32)][H][W][32]) does not say C: the weights do.
  s.in_channels = g.x_blocked ? weights[0]->cols() / kk * G : static_cast<int>(x.shape(1));
  if (g.x_blocked && (x.shape(1) != blocked_count(s.in_channels) || x.shape(4) != sr::kChannelBlock))
    return "conv2d: x: expected blocked shape (N, " + std::to_string(blocked_count(s.in_channels)) + ", H, W, " +
           std::to_string(sr::kChannelBlock) + ") for " + std::to_string(s.in_channels) + " channels, got " +
           shape_str(x);
  s.in_h = static_cast<int>(x.shape(2));
  s.in_w = static_cast<int>(x.shape(3));
  s.groups = G;
  s.kernel_h = g.kernel_h;
  s.kernel_w = g.kernel_w;
  s.stride_h = g.stride_h;
  s.stride_w = g.stride_w;
  s.dilation_h = g.dilation_h;
  s.dilation_w = g.dilation_w;
  s.pad_top = g.pad_top;
  s.pad_left = g.pad_left;
  s.x_blocked = g.x_blocked;
  s.y_blocked = g.y_blocked;
  if (s.in_channels % G != 0)
    return "conv2d: input channels " + std::to_string(s.in_channels) + " not divisible by groups " + std::to_string(G);
  const int cog = weights[0]->rows();
  for (int g_ = 0; g_ < G; ++g_) {
    if (weights[g_]->rows() != cog || weights[g_]->cols() != s.in_channels / G * kk)
      return "conv2d: weight group " + std::to_string(g_) + " has shape (" + std::to_string(weights[g_]->rows()) +
             ", " + std::to_string(weights[g_]->cols()) + "), expected (" + std::to_string(cog) + ", " +
             std::to_string(s.in_channels / G * kk) + ") for input " + shape_str(x);
  }
  s.out_channels = cog * G;
  const long eh = static_cast<long>(g.dilation_h) * (g.kernel_h - 1) + 1;
  const long ew = static_cast<long>(g.dilation_w) * (g.kernel_w - 1) + 1;
  const long span_h = s.in_h + g.pad_top + g.pad_bottom - eh, span_w = s.in_w + g.pad_left + g.pad_right - ew;
  if (span_h < 0 || span_w < 0) return "conv2d: kernel larger than the padded input " + shape_str(x);
  s.out_h = static_cast<int>(span_h / g.stride_h + 1);
  s.out_w = static_cast<int>(span_w / g.stride_w + 1);
  return {};
}

std::vector<py::ssize_t> out_shape(const sr::ConvShape& s) {
  if (s.y_blocked) return {s.batch, blocked_count(s.out_channels), s.out_h, s.out_w, sr::kChannelBlock};
  return {s.batch, s.out_channels, s.out_h, s.out_w};
}

py::array run_conv(const std::vector<const sr::PackedMatrix*>& weights, const sr::ConvShape& s, const float* X,
                   const float* bias, sr::Act act, const float* R, const std::vector<py::ssize_t>& shape) {
  auto out = new_f32(shape);
  float* Y = out.mutable_data();
  if (s.batch > 0) {
    NativeRegion native;
    sr::conv2d(weights, s, X, Y, bias, act, R);
  }
  return std::move(out);
}

py::array conv2d(const std::vector<const sr::PackedMatrix*>& weights, const py::array& x, const py::object& bias,
                 int kernel_h, int kernel_w, const py::sequence& strides, const py::sequence& pads,
                 const py::sequence& dilations, const std::string& act, const py::object& residual, bool x_blocked,
                 bool y_blocked) {
  const float* X = f32_in(x, "x", x_blocked ? 5 : 4);
  const ConvGeometry g = geometry(kernel_h, kernel_w, strides, pads, dilations, x_blocked, y_blocked);
  sr::ConvShape s;
  const std::string error = conv_shape(weights, g, x, s);
  if (!error.empty()) throw py::value_error(error);
  const float* bp = bias_in(bias, s.out_channels);
  const sr::Act ac = parse_act(act);
  const std::vector<py::ssize_t> shape = out_shape(s);
  return run_conv(weights, s, X, bp, ac, residual_in(residual, shape), shape);
}

// A float32, C-contiguous array of the given rank, or null.
const py::array* f32_array(const py::object& o, py::ssize_t ndim) {
  if (!py::isinstance<py::array>(o)) return nullptr;
  const auto& a = static_cast<const py::array&>(o);
  if (!a.dtype().is(py::dtype::of<float>()) || !(a.flags() & py::array::c_style) || a.ndim() != ndim) return nullptr;
  return &a;
}

class ConvOp {
 public:
  ConvOp(py::list weights, py::object bias, const std::string& act, int kernel_h, int kernel_w,
         const py::sequence& strides, const py::sequence& pads, const py::sequence& dilations, bool x_blocked,
         bool y_blocked)
      : weights_obj_(std::move(weights)), bias_obj_(std::move(bias)), act_(parse_act(act)),
        g_(geometry(kernel_h, kernel_w, strides, pads, dilations, x_blocked, y_blocked)) {
    for (const auto& w : weights_obj_) weights_.push_back(w.cast<const sr::PackedMatrix*>());
    if (weights_.empty()) throw py::value_error("ConvOp: no weight groups");
    bias_ = bias_in(bias_obj_, static_cast<py::ssize_t>(weights_[0]->rows()) * static_cast<py::ssize_t>(weights_.size()));
  }

  // x: NCHW, or blocked when bound with x_blocked; residual: the result's exact shape and layout.
  py::object run(const py::object& x_obj, const py::object& residual) const {
    const py::array* x = f32_array(x_obj, g_.x_blocked ? 5 : 4);
    sr::ConvShape s;
    if (!x || !conv_shape(weights_, g_, *x, s).empty()) return py::none();
    const std::vector<py::ssize_t> shape = out_shape(s);
    const float* R = nullptr;
    if (!residual.is_none()) {
      const py::array* r = f32_array(residual, static_cast<py::ssize_t>(shape.size()));
      if (!r) return py::none();
      for (size_t i = 0; i < shape.size(); ++i)
        if (r->shape(static_cast<py::ssize_t>(i)) != shape[i]) return py::none();
      R = static_cast<const float*>(r->data());
    }
    return run_conv(weights_, s, static_cast<const float*>(x->data()), bias_, act_, R, shape);
  }

 private:
  py::list weights_obj_;  // kept alive: weights_ and bias_ point into these
  py::object bias_obj_;
  std::vector<const sr::PackedMatrix*> weights_;
  const float* bias_ = nullptr;
  sr::Act act_;
  ConvGeometry g_;
};

}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d", &conv2d, py::arg("weights"), py::arg("x"), py::arg("bias"), py::arg("kernel_h"),
        py::arg("kernel_w"), py::arg("strides"), py::arg("pads"), py::arg("dilations"), py::arg("act") = "none",
        py::arg("residual") = py::none(), py::arg("x_blocked") = false, py::arg("y_blocked") = false);
  py::class_<ConvOp>(m, "ConvOp", "A PackedConv bound once: weights, bias, activation and geometry converted at plan time.")
      .def(py::init<py::list, py::object, const std::string&, int, int, const py::sequence&, const py::sequence&,
                    const py::sequence&, bool, bool>(),
           py::arg("weights"), py::arg("bias"), py::arg("act"), py::arg("kernel_h"), py::arg("kernel_w"),
           py::arg("strides"), py::arg("pads"), py::arg("dilations"), py::arg("x_blocked") = false,
           py::arg("y_blocked") = false)
      .def("run", &ConvOp::run, py::arg("x"), py::arg("residual") = py::none(),
           "x (NCHW, or blocked) -> act(conv(x) + bias + residual); None where the fast path does not apply.");
}

}  // namespace srpy
