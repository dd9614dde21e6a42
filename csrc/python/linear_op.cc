// LinearOp: a PackedMatMul whose weight, bias and activation are converted once, when the plan is
// built, so that a run's call converts only its activations. On BERT-base the free function
// `linear` spent 15-25 us per call outside the kernels, about half of it converting and checking
// arguments that never change between runs, and the Python wrapper's reshapes: between two kernels,
// with cold caches, even building a shape tuple in Python measured several microseconds.
//
// Calls return None when the activations do not fit the fast path (another dtype, not
// contiguous, a residual that broadcasts): the caller then takes its general path, which also
// words the errors for the user.
#include "linear_op.h"

#include <pybind11/numpy.h>

#include <string>
#include <vector>

#include "convert.h"
#include "sparse_runtime/ops.h"
#include "sparse_runtime/packed.h"

namespace srpy {
namespace {

// A float32, C-contiguous array, or null.
const py::array* plain_f32(const py::object& o) {
  if (!py::isinstance<py::array>(o)) return nullptr;
  const auto& a = static_cast<const py::array&>(o);
  if (!a.dtype().is(py::dtype::of<float>()) || !(a.flags() & py::array::c_style)) return nullptr;
  return &a;
}

class LinearOp {
 public:
  LinearOp(py::object packed, py::object bias, const std::string& act, bool x_tiles, bool y_tiles)
      : packed_(std::move(packed)), bias_obj_(std::move(bias)), act_(parse_act(act)), x_tiles_(x_tiles),
        y_tiles_(y_tiles) {
    a_ = packed_.cast<const sr::PackedMatrix*>();
    bias_ = bias_in(bias_obj_, a_->rows());
  }

  // Row-major x [..., K] -> [..., N] (token tiles [ceil(m/64)][N][64] when bound with y_tiles).
  py::object rows(const py::object& x_obj, const py::object& residual) const {
    const py::array* x = plain_f32(x_obj);
    if (x_tiles_ || !x || x->ndim() < 1 || a_->cols() == 0 || x->shape(x->ndim() - 1) != a_->cols())
      return py::none();
    std::vector<py::ssize_t> shape(x->shape(), x->shape() + x->ndim());
    shape.back() = a_->rows();
    const py::ssize_t m = x->size() / a_->cols();
    return run(static_cast<const float*>(x->data()), m, shape, residual);
  }

  // Token tiles [ceil(m/64)][K][64] holding the row-major activation of shape `logical` [..., K]
  // (m tokens: the product of its leading dims) -> rows [..., N] (or tiles).
  py::object tiles(const py::object& x_obj, const py::tuple& logical, const py::object& residual) const {
    const py::array* x = plain_f32(x_obj);
    if (!x_tiles_ || !x || logical.size() < 1) return py::none();
    std::vector<py::ssize_t> shape(logical.size());
    py::ssize_t m = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      shape[i] = logical[i].cast<py::ssize_t>();
      if (shape[i] < 0) return py::none();
      if (i + 1 < shape.size()) m *= shape[i];
    }
    if (shape.back() != a_->cols() || m < 1 || m > INT32_MAX || x->ndim() != 3 ||
        x->shape(0) != sr::tile_count(static_cast<int>(m)) || x->shape(1) != a_->cols() ||
        x->shape(2) != sr::kColumnTile)
      return py::none();
    shape.back() = a_->rows();
    return run(static_cast<const float*>(x->data()), m, shape, residual);
  }

 private:
  // rows_shape: the row-major result's shape (its product of leading dims is m).
  py::object run(const float* X, py::ssize_t m, const std::vector<py::ssize_t>& rows_shape,
                 const py::object& residual) const {
    const int n = a_->rows();
    const float* R = nullptr;
    if (!residual.is_none()) {  // exactly the result's shape: anything else broadcasts, elsewhere
      const py::array* r = plain_f32(residual);
      if (y_tiles_ || !r || r->ndim() != static_cast<py::ssize_t>(rows_shape.size())) return py::none();
      for (size_t i = 0; i < rows_shape.size(); ++i)
        if (r->shape(static_cast<py::ssize_t>(i)) != rows_shape[i]) return py::none();
      R = static_cast<const float*>(r->data());
    }
    if (m > INT32_MAX) return py::none();
    const int tokens = static_cast<int>(m);
    py::array_t<float> out = y_tiles_ ? new_f32({sr::tile_count(tokens), n, sr::kColumnTile}) : new_f32(rows_shape);
    if (tokens == 0 || n == 0) return std::move(out);
    float* Y = out.mutable_data();
    {
      NativeRegion native;
      if (x_tiles_ || y_tiles_)
        sr::linear_tiled(*a_, X, x_tiles_, tokens, Y, y_tiles_, bias_, act_, R);
      else
        sr::linear(*a_, X, tokens, Y, bias_, act_, R);
    }
    return std::move(out);
  }

  py::object packed_, bias_obj_;  // kept alive: a_ and bias_ point into them
  const sr::PackedMatrix* a_ = nullptr;
  const float* bias_ = nullptr;
  sr::Act act_;
  bool x_tiles_, y_tiles_;
};

}  // namespace

void bind_linear_op(py::module_& m) {
  py::class_<LinearOp>(m, "LinearOp",
                       "A PackedMatMul bound once: weight, bias and activation converted at plan time.")
      .def(py::init<py::object, py::object, const std::string&, bool, bool>(), py::arg("packed"), py::arg("bias"),
           py::arg("act"), py::arg("x_tiles"), py::arg("y_tiles"))
      .def("rows", &LinearOp::rows, py::arg("x"), py::arg("residual") = py::none(),
           "Row-major x [..., K] -> act(x · Wᵀ + bias + residual); None where the fast path does not apply.")
      .def("tiles", &LinearOp::tiles, py::arg("x"), py::arg("shape"), py::arg("residual") = py::none(),
           "Token tiles of the activation of row-major shape `shape` -> the same product; None where the fast "
           "path does not apply.");
}

}  // namespace srpy
