// x86-64 page sizes: 4 KiB, 2 MiB (a PDE with PS=1), 1 GiB (a PDPTE with PS=1).
// Intel SDM Vol. 3A, 4.5 "4-Level Paging and 5-Level Paging".
#pragma once

#include <cstdint>
#include <string_view>

namespace pagesim {

enum class PageSize : std::uint8_t { k4K = 0, k2M = 1, k1G = 2 };
inline constexpr int kPageSizeCount = 3;

constexpr unsigned page_shift(PageSize s) {
  return s == PageSize::k4K ? 12u : s == PageSize::k2M ? 21u : 30u;
}
constexpr std::uint64_t page_bytes(PageSize s) { return std::uint64_t{1} << page_shift(s); }
constexpr std::string_view page_size_name(PageSize s) {
  return s == PageSize::k4K ? "4k" : s == PageSize::k2M ? "2m" : "1g";
}
// The page-table level (1 = PT, 2 = PD, 3 = PDPT) whose entry maps a page of this size.
constexpr unsigned leaf_level(PageSize s) { return static_cast<unsigned>(s) + 1; }
// A bit set of page sizes, bit i for PageSize(i).
constexpr std::uint8_t page_size_bit(PageSize s) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(s));
}

inline constexpr std::uint64_t kKiB = 1024;
inline constexpr std::uint64_t kMiB = 1024 * kKiB;
inline constexpr std::uint64_t kGiB = 1024 * kMiB;

}  // namespace pagesim
