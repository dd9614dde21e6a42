// The loop order of a transpose, shared by the AVX block and the portable transposes.
#pragma once
#include <cstddef>

namespace sr {
namespace impl {
// Internal linkage: each ISA's translation unit keeps its own copy (see spmm_impl.h).
namespace {

// Calls block(r, c) for r, c in steps of STEP below rows, cols. The inner loop walks along the rows
// of whichever side has the longer stride, so that side is touched as STEP contiguous streams:
// walking across its rows instead keeps one line of each of many rows live, and at a stride that
// is a multiple of 4 KiB (3072 or 4096 floats) they all fall in one L1 set. Token tiles stored
// into rows of 3072 outputs took 4x as long as into rows of 3088 (104 against 26 us for 128 x 3072,
// two threads, AVX).
template <int STEP, class Block>
inline void for_each_block(int rows, int cols, ptrdiff_t lds, ptrdiff_t ldd, Block&& block) {
  if (ldd > lds) {
    for (int c = 0; c < cols; c += STEP)
      for (int r = 0; r < rows; r += STEP) block(r, c);
  } else {
    for (int r = 0; r < rows; r += STEP)
      for (int c = 0; c < cols; c += STEP) block(r, c);
  }
}

}  // namespace
}  // namespace impl
}  // namespace sr
