// Packing dense weights into the formats of formats.h (once per weight, at model load).
#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "sparse_runtime/packed.h"

namespace sr {

Format parse_format(const std::string& name) {
  if (name == "dense") return Format::kDense;
  if (name == "csr") return Format::kCsr;
  if (name == "bsr4x1") return Format::kBsr4x1;
  if (name == "bsr1x4") return Format::kBsr1x4;
  if (name == "nm24") return Format::kNm24;
  throw std::invalid_argument("unknown weight format '" + name +
                              "': expected dense, csr, bsr4x1, bsr1x4 or nm24");
}

const char* format_name(Format f) {
  switch (f) {
    case Format::kCsr:
      return "csr";
    case Format::kBsr4x1:
      return "bsr4x1";
    case Format::kBsr1x4:
      return "bsr1x4";
    case Format::kNm24:
      return "nm24";
    default:
      return "dense";
  }
}

namespace {

void check_counts(int n, int k, int64_t entries) {
  if (n < 0 || k < 0) throw std::invalid_argument("negative matrix size");
  if (entries > std::numeric_limits<int32_t>::max())
    throw std::invalid_argument("too many stored values for int32 indices");
}

}  // namespace

PackedMatrix PackedMatrix::pack(const float* a, int n, int k, Format format) {
  PackedMatrix p;
  p.format_ = format;
  p.n_ = n;
  p.k_ = k;
  check_counts(n, k, 0);
  const auto at = [&](int r, int c) { return a[static_cast<int64_t>(r) * k + c]; };
  for (int64_t i = 0; i < static_cast<int64_t>(n) * k; ++i) p.nonzeros_ += a[i] != 0.f;

  switch (format) {
    case Format::kDense: {
      const int panels = (n + kDensePanel - 1) / kDensePanel;
      p.val_.assign(static_cast<size_t>(panels) * k * kDensePanel, 0.f);
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < k; ++c)
          p.val_[(static_cast<size_t>(r / kDensePanel) * k + c) * kDensePanel + r % kDensePanel] = at(r, c);
      break;
    }
    case Format::kCsr: {
      check_counts(n, k, p.nonzeros_);
      p.ptr_.reserve(n + 1);
      p.col_.reserve(p.nonzeros_);
      p.val_.reserve(p.nonzeros_);
      p.ptr_.push_back(0);
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < k; ++c)
          if (at(r, c) != 0.f) {
            p.col_.push_back(c);
            p.val_.push_back(at(r, c));
          }
        p.ptr_.push_back(static_cast<int32_t>(p.col_.size()));
      }
      p.make_panels();
      break;
    }
    case Format::kBsr4x1: {
      const int block_rows = (n + kBsrRows - 1) / kBsrRows;
      p.ptr_.push_back(0);
      for (int br = 0; br < block_rows; ++br) {
        for (int c = 0; c < k; ++c) {
          float w[kBsrRows] = {0.f, 0.f, 0.f, 0.f};
          bool any = false;
          for (int i = 0; i < kBsrRows; ++i) {
            const int r = br * kBsrRows + i;
            if (r < n) w[i] = at(r, c);
            any |= w[i] != 0.f;
          }
          if (!any) continue;
          p.col_.push_back(c);
          p.val_.insert(p.val_.end(), w, w + kBsrRows);
        }
        check_counts(n, k, static_cast<int64_t>(p.val_.size()));
        p.ptr_.push_back(static_cast<int32_t>(p.col_.size()));
      }
      break;
    }
    case Format::kBsr1x4: {
      if (k % 4 != 0)
        throw std::invalid_argument("bsr1x4 needs the reduction size to be a multiple of 4, got " + std::to_string(k));
      p.ptr_.push_back(0);
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < k; c += 4) {
          const float w[4] = {at(r, c), at(r, c + 1), at(r, c + 2), at(r, c + 3)};
          if (w[0] == 0.f && w[1] == 0.f && w[2] == 0.f && w[3] == 0.f) continue;
          p.col_.push_back(c);
          p.val_.insert(p.val_.end(), w, w + 4);
        }
        check_counts(n, k, static_cast<int64_t>(p.val_.size()));
        p.ptr_.push_back(static_cast<int32_t>(p.col_.size()));
      }
      break;
    }
    case Format::kNm24: {
      if (k % 4 != 0)
        throw std::invalid_argument("2:4 needs the reduction size to be a multiple of 4, got " + std::to_string(k));
      p.val_.assign(static_cast<size_t>(n) * (k / 2), 0.f);
      p.idx_.assign(static_cast<size_t>(n) * (k / 2), 0);
      for (int r = 0; r < n; ++r)
        for (int g = 0; g < k / 4; ++g) {
          int kept = 0;
          const size_t base = static_cast<size_t>(r) * (k / 2) + 2 * g;
          for (int q = 0; q < 4; ++q) {
            const float w = at(r, 4 * g + q);
            if (w == 0.f) continue;
            if (kept == 2)
              throw std::invalid_argument("row " + std::to_string(r) + ", k " + std::to_string(4 * g) +
                                          "..+3 holds more than 2 nonzeros: not a 2:4 pattern");
            p.val_[base + kept] = w;
            p.idx_[base + kept] = static_cast<uint8_t>(q);
            ++kept;
          }
          // An unused slot keeps value 0 and points at an offset distinct from the used one.
          if (kept == 1) p.idx_[base + 1] = p.idx_[base] == 0 ? 1 : 0;
          if (kept == 0) p.idx_[base + 1] = 1;
        }
      break;
    }
  }
  return p;
}

PackedMatrix PackedMatrix::from_csr(int n, int k, const int32_t* row_ptr, const int32_t* col,
                                    const float* val, int64_t nnz) {
  check_counts(n, k, nnz);
  if (row_ptr[0] != 0 || row_ptr[n] != nnz)
    throw std::invalid_argument("CSR row pointers must start at 0 and end at nnz=" + std::to_string(nnz));
  for (int r = 0; r < n; ++r)
    if (row_ptr[r + 1] < row_ptr[r])
      throw std::invalid_argument("CSR row pointers decrease at row " + std::to_string(r));
  for (int64_t i = 0; i < nnz; ++i)
    if (col[i] < 0 || col[i] >= k)
      throw std::invalid_argument("CSR column index " + std::to_string(col[i]) + " at position " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(k) + ")");
  PackedMatrix p;
  p.format_ = Format::kCsr;
  p.n_ = n;
  p.k_ = k;
  p.ptr_.assign(row_ptr, row_ptr + n + 1);
  p.col_.assign(col, col + nnz);
  p.val_.assign(val, val + nnz);
  for (int64_t i = 0; i < nnz; ++i) p.nonzeros_ += val[i] != 0.f;
  p.make_panels();
  return p;
}

void PackedMatrix::make_panels() {
  // Panels of 64 k (16 KiB of activations for a 64-column tile) when rows are dense; sparser rows
  // get wider panels so each row keeps ~10-20 nonzeros per panel, amortising the partial-sum round
  // trip through C and the loop exit. Measured on 768x3072, one 64-column tile, one core, GFLOP/s
  // on nonzeros at kblock 64 / 128 / 192 / 256: density 0.05: 40 / 60 / 63 / 65; 0.1: 56 / 70 /
  // 72 / 71; 0.2: 71 / 76 / 77 / 73; 0.3: 73 / 80 / 78 / 71; 0.5 (older run): 72 / 60 / - / 51.
  const double density = n_ && k_ ? static_cast<double>(col_.size()) / (static_cast<double>(n_) * k_) : 1.0;
  kblock_ = density < 0.07 ? 256 : density < 0.15 ? 192 : density < 0.35 ? 128 : 64;
  if (k_ <= kblock_ * 3 / 2) kblock_ = std::max(k_, 1);  // one panel; at most 384 deep
  if (kblock_ > 65536)
    throw std::logic_error("CSR k-panel of " + std::to_string(kblock_) + " > 65536 (uint16 columns)");
  panels_ = (k_ + kblock_ - 1) / kblock_;
  if (panels_ < 1) panels_ = 1;
  std::vector<int32_t> counts(static_cast<size_t>(panels_) * n_, 0);
  for (int r = 0; r < n_; ++r)
    for (int32_t q = ptr_[r]; q < ptr_[r + 1]; ++q) ++counts[static_cast<size_t>(col_[q] / kblock_) * n_ + r];
  panel_ptr_.assign(static_cast<size_t>(panels_) * (n_ + 1), 0);
  int32_t offset = 0;
  for (int pn = 0; pn < panels_; ++pn) {
    int32_t* pp = &panel_ptr_[static_cast<size_t>(pn) * (n_ + 1)];
    for (int r = 0; r < n_; ++r) {
      pp[r] = offset;
      offset += counts[static_cast<size_t>(pn) * n_ + r];
    }
    pp[n_] = offset;
  }
  std::vector<uint16_t> col(col_.size());
  std::vector<float, AlignedAllocator<float>> val(val_.size());
  std::vector<int32_t> fill(panel_ptr_);
  for (int r = 0; r < n_; ++r)
    for (int32_t q = ptr_[r]; q < ptr_[r + 1]; ++q) {
      const int32_t dst = fill[static_cast<size_t>(col_[q] / kblock_) * (n_ + 1) + r]++;
      col[dst] = static_cast<uint16_t>(col_[q] % kblock_);
      val[dst] = val_[q];
    }
  panel_col_.swap(col);
  std::vector<int32_t>().swap(col_);  // the row-order columns live on in panel_col_ only
  val_.swap(val);
}

void PackedMatrix::csr_row_order(std::vector<int32_t>& col, std::vector<float>& val) const {
  col.clear();
  val.clear();
  col.reserve(val_.size());
  val.reserve(val_.size());
  for (int r = 0; r < n_; ++r)
    for (int pn = 0; pn < panels_; ++pn) {
      const int32_t* pp = &panel_ptr_[static_cast<size_t>(pn) * (n_ + 1)];
      for (int32_t q = pp[r]; q < pp[r + 1]; ++q) col.push_back(pn * kblock_ + panel_col_[q]);
      val.insert(val.end(), val_.begin() + pp[r], val_.begin() + pp[r + 1]);
    }
}

int64_t PackedMatrix::bytes() const {
  return static_cast<int64_t>((ptr_.size() + col_.size() + panel_ptr_.size()) * 4 + panel_col_.size() * 2 +
                              val_.size() * 4 + idx_.size());
}

void PackedMatrix::to_dense(float* out) const {
  const int64_t n = n_, k = k_;
  std::memset(out, 0, sizeof(float) * n * k);
  switch (format_) {
    case Format::kDense:
      for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < k; ++c)
          out[r * k + c] = val_[((r / kDensePanel) * k + c) * kDensePanel + r % kDensePanel];
      break;
    case Format::kCsr:
      for (int pn = 0; pn < panels_; ++pn) {
        const int32_t* pp = &panel_ptr_[static_cast<size_t>(pn) * (n + 1)];
        for (int64_t r = 0; r < n; ++r)
          for (int32_t q = pp[r]; q < pp[r + 1]; ++q) out[r * k + pn * kblock_ + panel_col_[q]] = val_[q];
      }
      break;
    case Format::kBsr4x1:
      for (int64_t br = 0; br + 1 < static_cast<int64_t>(ptr_.size()); ++br)
        for (int32_t p = ptr_[br]; p < ptr_[br + 1]; ++p)
          for (int i = 0; i < kBsrRows; ++i) {
            const int64_t r = br * kBsrRows + i;
            if (r < n) out[r * k + col_[p]] = val_[static_cast<size_t>(p) * kBsrRows + i];
          }
      break;
    case Format::kBsr1x4:
      for (int64_t r = 0; r < n; ++r)
        for (int32_t p = ptr_[r]; p < ptr_[r + 1]; ++p)
          for (int q = 0; q < 4; ++q) out[r * k + col_[p] + q] = val_[static_cast<size_t>(p) * 4 + q];
      break;
    case Format::kNm24:
      for (int64_t r = 0; r < n; ++r)
        for (int64_t p = 0; p < k / 2; ++p) {
          const float w = val_[r * (k / 2) + p];
          if (w != 0.f) out[r * k + (p / 2) * 4 + idx_[r * (k / 2) + p]] = w;
        }
      break;
  }
}

}  // namespace sr
