// Vector traits for the portable build: one float per "vector".
// Compiled without any ISA flags, so it runs on every x86-64 (and elsewhere).
#pragma once
#include <cmath>
#include <cstring>

namespace sr {

struct VecScalar {
  using V = float;
  static constexpr int W = 1;
  static constexpr int kRegisters = 128;  // no register budget: one pass, as before (untuned)
  static constexpr const char* kName = "scalar";
  static V zero() { return 0.f; }
  static V set1(float x) { return x; }
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  // Partial forms take the count of valid lanes (0 < n <= W).
  static V load_n(const float* p, int) { return *p; }
  static void store_n(float* p, V v, int) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V fmadd(V a, V b, V c) { return std::fma(a, b, c); }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
  // max that keeps a NaN once either side has one (numpy's maximum).
  static V nan_max(V best, V v) { return v > best ? v : (v != v ? v : best); }
  // Lanes 0, 2, 4, ... of the 2W floats a then b (W = 1: a).
  static V even(V a, V) { return a; }
  static V abs(V a) { return std::fabs(a); }
  static V copysign(V mag, V sign) { return std::copysign(mag, sign); }
  static V exp(V a) { return std::exp(a); }
  static float reduce_add(V a) { return a; }
  static float reduce_max(V a) { return a; }
};

}  // namespace sr
