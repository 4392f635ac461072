// Helpers shared by the TLB tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <vector>

#include "base/address.h"
#include "base/page_size.h"
#include "base/translation.h"

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

// What for_each_entry reports for one entry: (HPA page base, page size, pcid, vpid).
using Visited = std::tuple<std::uint64_t, PageSize, std::uint16_t, std::uint16_t>;

// Every entry a Tlb or TlbHierarchy reports through for_each_entry, sorted.
template <class T>
std::vector<Visited> visit_all(const T& tlbs) {
  std::vector<Visited> seen;
  tlbs.for_each_entry([&seen](const Translation& t, std::uint16_t pcid, std::uint16_t vpid) {
    seen.emplace_back(t.page_base.value(), t.size, pcid, vpid);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

}  // namespace pagesim::tlb::testing
