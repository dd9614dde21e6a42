// Checks and conversions shared by the bindings: every buffer Python hands over is checked here
// (dtype, rank, contiguity, shape) with errors that name it; nothing is copied or cast silently.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sparse_runtime/formats.h"

namespace srpy {
namespace py = pybind11;

// Nanoseconds spent in native work since import, over all threads: with a run's wall time it
// gives the share of a run spent outside the kernels (Python, numpy glue): engine/benchmark.py.
extern std::atomic<int64_t> g_native_ns;  // defined in module.cc

// Releases the GIL around native work and adds the work's duration to g_native_ns (the clock
// stops before the GIL is taken back: waiting for it is not native work).
struct NativeRegion {
  py::gil_scoped_release nogil;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  ~NativeRegion() {
    g_native_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - start).count(),
                          std::memory_order_relaxed);
  }
};

// Channel blocks of a blocked activation holding `channels` channels.
inline py::ssize_t blocked_count(py::ssize_t channels) { return (channels + sr::kChannelBlock - 1) / sr::kChannelBlock; }

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// The array must be float32, C-contiguous, of the given rank: we never copy or cast silently.
inline const float* f32_in(const py::array& a, const char* what, int ndim) {
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(what) + ": expected float32, got " + std::string(py::str(a.dtype())));
  if (a.ndim() != ndim)
    throw py::value_error(std::string(what) + ": expected " + std::to_string(ndim) + "-D array, got shape " + shape_str(a));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(what) + ": array must be C-contiguous (use np.ascontiguousarray)");
  return static_cast<const float*>(a.data());
}

inline float* f32_out(py::array& a, const char* what, int ndim) {
  f32_in(a, what, ndim);
  if (!a.writeable()) throw py::value_error(std::string(what) + ": array is read-only");
  return static_cast<float*>(a.mutable_data());
}

inline void expect_dim(const py::array& a, int axis, py::ssize_t want, const char* what, const char* meaning) {
  if (a.shape(axis) != want)
    throw py::value_error(std::string(what) + ": dimension " + std::to_string(axis) + " (" + meaning + ") must be " +
                          std::to_string(want) + ", got shape " + shape_str(a));
}

inline sr::Act parse_act(const std::string& name) {
  if (name == "none") return sr::Act::kNone;
  if (name == "relu") return sr::Act::kRelu;
  if (name == "gelu_erf") return sr::Act::kGeluErf;
  if (name == "gelu_tanh") return sr::Act::kGeluTanh;
  throw py::value_error("unknown activation '" + name + "': expected none, relu, gelu_erf or gelu_tanh");
}

// None, or a float32 vector of exactly n values.
inline const float* optional_vector(const py::object& v, py::ssize_t n, const char* what, const char* meaning) {
  if (v.is_none()) return nullptr;
  py::array a = py::reinterpret_borrow<py::array>(v);
  const float* p = f32_in(a, what, 1);
  expect_dim(a, 0, n, what, meaning);
  return p;
}

inline const float* bias_in(const py::object& bias, py::ssize_t n) { return optional_vector(bias, n, "bias", "output channels"); }

// Every array the kernels produce: C-contiguous float32 whose data starts on a 64-byte line
// (numpy only promises 16), a view into a slightly larger buffer that it keeps alive as its base.
// The next kernel often reads it with 512-bit loads (token tiles, attention's V rows), which
// straddle two lines when misaligned (measured: 52 instead of 76 GFLOP/s on a 30 % layer).
inline py::array_t<float> new_f32(const std::vector<py::ssize_t>& shape) {
  py::ssize_t count = 1;
  for (py::ssize_t d : shape) count *= d;
  py::array_t<float> buffer(count + 16);
  float* base = buffer.mutable_data();
  const size_t skip = (64 - reinterpret_cast<uintptr_t>(base) % 64) % 64 / sizeof(float);
  std::vector<py::ssize_t> strides(shape.size());
  py::ssize_t step = sizeof(float);
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = step;
    step *= shape[i];
  }
  return py::array_t<float>(shape, strides, base + skip, buffer);
}

// Optional residual: a float32 C-contiguous array of exactly `shape`, added before the activation.
inline const float* residual_in(const py::object& residual, const std::vector<py::ssize_t>& shape) {
  if (residual.is_none()) return nullptr;
  py::array r = py::reinterpret_borrow<py::array>(residual);
  const float* p = f32_in(r, "residual", static_cast<int>(shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) expect_dim(r, static_cast<int>(i), shape[i], "residual", "output shape");
  return p;
}

}  // namespace srpy
