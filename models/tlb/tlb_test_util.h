// Helpers shared by the TLB tests.
#pragma once

#include <cstdint>

#include "sim/address.h"
#include "sim/page_size.h"
#include "sim/translation.h"

namespace pagesim::tlb::testing {

inline constexpr std::uint64_t k4K = 4 * kKiB;
inline constexpr std::uint64_t k2M = 2 * kMiB;
inline constexpr std::uint64_t k1G = kGiB;

inline Translation translation(std::uint64_t hpa_base, PageSize size = PageSize::k4K) {
  Translation t;
  t.page_base = Hpa(hpa_base);
  t.size = size;
  return t;
}

// The 4 KiB page with this virtual page number.
inline Gva page(std::uint64_t vpn) { return Gva(vpn * k4K); }

}  // namespace pagesim::tlb::testing
