// A weight packed once, at load, into one of the formats of formats.h, owning its arrays.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sparse_runtime/formats.h"
#include "sparse_runtime/scratch.h"

namespace sr {

class PackedMatrix {
 public:
  // Packs dense row-major a[n][k]. Throws std::invalid_argument when the format cannot hold it
  // (2:4 with a group of more than two nonzeros, 1x4 / 2:4 with k % 4 != 0).
  static PackedMatrix pack(const float* a, int n, int k, Format format);
  // Adopts CSR arrays after validating them (sizes, monotonic row pointers, column bounds).
  static PackedMatrix from_csr(int n, int k, const int32_t* row_ptr, const int32_t* col,
                               const float* val, int64_t nnz);

  Format format() const { return format_; }
  int rows() const { return n_; }
  int cols() const { return k_; }
  // Stored nonzeros (block formats count the zeros inside kept blocks: that is the work done).
  int64_t stored() const { return static_cast<int64_t>(val_.size()); }
  int64_t nonzeros() const { return nonzeros_; }
  int64_t bytes() const;
  void to_dense(float* out) const;

  CsrView csr() const { return {n_, k_, panels_, kblock_, panel_ptr_.data(), panel_col_.data(), val_.data()}; }
  // CSR only: k per panel (see formats.h, item 4) and the nonzeros back in plain row order.
  int kblock() const { return kblock_; }
  void csr_row_order(std::vector<int32_t>& col, std::vector<float>& val) const;
  Bsr4x1View bsr4x1() const { return {n_, k_, ptr_.data(), col_.data(), val_.data()}; }
  Bsr1x4View bsr1x4() const { return {n_, k_, ptr_.data(), col_.data(), val_.data()}; }
  Nm24View nm24() const { return {n_, k_, val_.data(), idx_.data()}; }
  DenseView dense() const { return {n_, k_, val_.data(), 0}; }

  // Row (or block-row) pointers in row order (for CSR: nonzeros before each row), used for
  // splitting rows into balanced chunks and for export.
  const std::vector<int32_t>& ptr() const { return ptr_; }
  // Column (block) indices of the BSR formats; empty for CSR, whose columns live per panel
  // (csr(), or csr_row_order for plain row order).
  const std::vector<int32_t>& col() const { return col_; }
  const std::vector<float, AlignedAllocator<float>>& val() const { return val_; }
  const std::vector<uint8_t>& idx() const { return idx_; }

 private:
  Format format_ = Format::kDense;
  int n_ = 0, k_ = 0;
  int64_t nonzeros_ = 0;
  void make_panels();  // CSR: reorder row-order col_/val_ into k-panels (panel_col_; col_ freed)

  std::vector<int32_t> ptr_, col_, panel_ptr_;
  std::vector<uint16_t> panel_col_;  // CSR: k within the panel (formats.h, item 4)
  int kblock_ = 0, panels_ = 1;
  std::vector<float, AlignedAllocator<float>> val_;  // aligned: the kernels stream it
  std::vector<uint8_t> idx_;
};

Format parse_format(const std::string& name);
const char* format_name(Format f);

}  // namespace sr
