// CPU feature detection (cpuid + xgetbv, once) and the choice of kernel table.
#pragma once
#include <string>

#include "sparse_runtime/kernels.h"

namespace sr {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  bool sse42 = false, avx = false, fma = false, avx2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool os_avx = false;     // OS saves YMM state (XCR0 bits 1, 2)
  bool os_avx512 = false;  // OS saves opmask and ZMM state (XCR0 bits 5, 6, 7)
  std::string vendor, brand;
};

const CpuFeatures& cpu_features();
Isa best_supported_isa();
const char* isa_name(Isa isa);
// Throws std::invalid_argument for an unknown name or a level this CPU cannot run.
Isa parse_isa(const std::string& name);

// The ISA in use: the best supported one, lowered by SPARSE_RUNTIME_ISA at first use, or set_isa.
Isa active_isa();
void set_isa(Isa isa);
const KernelTable& kernel_table(Isa isa);
inline const KernelTable& active_kernels() { return kernel_table(active_isa()); }

}  // namespace sr
