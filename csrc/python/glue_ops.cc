// Bindings for glue that sits between kernels (an embedding lookup, a same-shape Add): numpy did
// these in 40-130 us each on BERT-base, most of it waiting on memory with cold caches, and single
// threaded; here they run on the pool like any kernel.
#include "glue_ops.h"

#include <pybind11/numpy.h>

#include <algorithm>
#include <string>
#include <vector>

#include "convert.h"
#include "sparse_runtime/ops.h"

namespace srpy {
namespace {

// table[indices] along axis 0, for any dtype numpy can copy bytewise (numbers, bool).
py::array gather_rows(const py::array& table, const py::array& indices) {
  if (table.ndim() < 1) throw py::value_error("gather_rows: table must be at least 1-D");
  if (!(table.flags() & py::array::c_style) || !(indices.flags() & py::array::c_style))
    throw py::value_error("gather_rows: arrays must be C-contiguous");
  if (table.dtype().kind() == 'O') throw py::type_error("gather_rows: object arrays are not supported");
  // By kind and size, not dtype identity: np.longlong is int64 too, under another descriptor.
  const bool signed_int = indices.dtype().kind() == 'i';
  const bool i64 = signed_int && indices.itemsize() == 8, i32 = signed_int && indices.itemsize() == 4;
  if (!i64 && !i32)
    throw py::type_error("gather_rows: indices must be int32 or int64, got " + std::string(py::str(indices.dtype())));
  const int64_t rows = table.shape(0), count = indices.size();
  std::vector<int64_t> index(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t v = i64 ? static_cast<const int64_t*>(indices.data())[i] : static_cast<const int32_t*>(indices.data())[i];
    if (v < -rows || v >= rows)
      throw py::index_error("index " + std::to_string(v) + " is out of bounds for axis 0 with size " + std::to_string(rows));
    index[static_cast<size_t>(i)] = v;
  }
  std::vector<py::ssize_t> shape(indices.shape(), indices.shape() + indices.ndim());
  shape.insert(shape.end(), table.shape() + 1, table.shape() + table.ndim());
  py::array out(table.dtype(), shape);
  const int64_t row_bytes = rows ? table.nbytes() / rows : 0;
  if (count && row_bytes) {
    NativeRegion native;
    sr::gather_rows(static_cast<const char*>(table.data()), rows, row_bytes, index.data(), count,
                    static_cast<char*>(out.mutable_data()));
  }
  return out;
}

py::array add(const py::array& a, const py::array& b) {
  const float* A = f32_in(a, "a", static_cast<int>(a.ndim()));
  const float* B = f32_in(b, "b", static_cast<int>(b.ndim()));
  if (a.ndim() != b.ndim() || !std::equal(a.shape(), a.shape() + a.ndim(), b.shape()))
    throw py::value_error("add: shapes differ: " + shape_str(a) + " and " + shape_str(b));
  auto out = new_f32(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
  if (a.size()) {
    NativeRegion native;
    sr::add(A, B, out.mutable_data(), a.size());
  }
  return std::move(out);
}

}  // namespace

void bind_glue_ops(py::module_& m) {
  m.def("gather_rows", &gather_rows, py::arg("table"), py::arg("indices"),
        "table[indices] along axis 0 (C-contiguous table of any numeric dtype; int32/int64 indices, negative ones\n"
        "counted from the end; IndexError when out of range), on the pool.");
  m.def("add", &add, py::arg("a"), py::arg("b"), "a + b for float32 C-contiguous arrays of one shape, on the pool.");
}

}  // namespace srpy
