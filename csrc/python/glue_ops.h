// Bindings for glue between kernels: row gathers and same-shape adds (glue_ops.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace srpy {
void bind_glue_ops(pybind11::module_& m);
}  // namespace srpy
