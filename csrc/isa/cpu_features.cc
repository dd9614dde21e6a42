// Built without ISA flags: it must run on any x86-64 to decide what else may run.
#include <atomic>
#include <cpuid.h>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "sparse_runtime/isa.h"

namespace sr {
namespace {

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {0};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;

  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = c & (1u << 20);
  f.fma = c & (1u << 12);
  f.avx = c & (1u << 28);
  const bool osxsave = c & (1u << 27);
  if (osxsave) {
    const uint64_t xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;
    f.os_avx512 = f.os_avx && (xcr0 & 0xE0) == 0xE0;
  }
  if (max_leaf >= 7) {
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  unsigned ext = 0;
  __get_cpuid(0x80000000, &ext, &b, &c, &d);
  if (ext >= 0x80000004) {
    char brand[49] = {0};
    for (unsigned i = 0; i < 3; ++i) {
      unsigned r[4];
      __get_cpuid(0x80000002 + i, &r[0], &r[1], &r[2], &r[3]);
      std::memcpy(brand + 16 * i, r, 16);
    }
    f.brand = brand;
    const auto first = f.brand.find_first_not_of(' ');
    f.brand = first == std::string::npos ? "" : f.brand.substr(first);
  }
  return f;
}

std::atomic<int> g_active{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa best_supported_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.os_avx512 && f.avx512f && f.avx512bw && f.avx512vl && f.fma) return Isa::kAvx512;
  if (f.os_avx && f.avx2 && f.fma) return Isa::kAvx2;
  return Isa::kScalar;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "scalar";
  }
}

Isa parse_isa(const std::string& name) {
  Isa isa;
  if (name == "scalar")
    isa = Isa::kScalar;
  else if (name == "avx2")
    isa = Isa::kAvx2;
  else if (name == "avx512")
    isa = Isa::kAvx512;
  else
    throw std::invalid_argument("unknown ISA '" + name + "': expected scalar, avx2 or avx512");
  if (static_cast<int>(isa) > static_cast<int>(best_supported_isa()))
    throw std::invalid_argument("ISA '" + name + "' is not supported by this CPU (best: " +
                                isa_name(best_supported_isa()) + ")");
  return isa;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_acquire);
  if (v >= 0) return static_cast<Isa>(v);
  Isa isa = best_supported_isa();
  if (const char* env = std::getenv("SPARSE_RUNTIME_ISA")) {
    if (*env) isa = parse_isa(env);  // an impossible request is an error, not a silent downgrade
  }
  g_active.store(static_cast<int>(isa), std::memory_order_release);
  return isa;
}

void set_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(best_supported_isa()))
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) + "' is not supported by this CPU");
  g_active.store(static_cast<int>(isa), std::memory_order_release);
}

const KernelTable& kernel_table(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return kernels_avx512();
    case Isa::kAvx2:
      return kernels_avx2();
    default:
      return kernels_scalar();
  }
}

}  // namespace sr
