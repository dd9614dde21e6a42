// Convolution bindings: the free conv2d and ConvOp, a PackedConv bound at plan time (conv_op.cc).
#pragma once
#include <pybind11/pybind11.h>

namespace srpy {
void bind_conv(pybind11::module_& m);
}  // namespace srpy
