// LinearOp: a PackedMatMul bound once, when a plan is built (see linear_op.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace srpy {
void bind_linear_op(pybind11::module_& m);
}  // namespace srpy
