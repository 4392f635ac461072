// Parameters of the native OS model: the kernel that maps a page on first touch.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"
#include "base/page_size.h"

namespace pagesim::os {

// The page size a first-touch fault maps: never (4 KiB), 2m (a 2 MiB page for the aligned
// 2 MiB region, as THP "always" does for anonymous memory), or 1g (as hugetlbfs 1 GiB pages).
enum class Thp : std::uint8_t { kNever, k2M, k1G };

constexpr PageSize thp_page_size(Thp t) {
  return t == Thp::kNever ? PageSize::k4K : t == Thp::k2M ? PageSize::k2M : PageSize::k1G;
}

// The most physical memory a machine (os.memory, host.memory) may have: 64 TiB (2^46). The
// simulator reserves the whole simulated memory in its own address space at start
// (mem::PhysicalMemory; only pages the model writes are backed), and an x86-64 Linux
// process has 2^47 bytes of it (4-level paging), so more could never be reserved. The
// architecture would allow 2^52 (MAXPHYADDR).
inline constexpr std::uint64_t kMaxMemoryBytes = std::uint64_t{1} << 46;

struct OsParams {
  Thp thp = Thp::kNever;
  config::ByteSize memory{256 * kGiB};
  // A first-touch anonymous fault on Linux (exception entry, handle_mm_fault, zeroing the
  // 4 KiB page, return) costs on the order of 1 µs: ~2600 cycles at 2.6 GHz. Huge pages
  // zero more: the model charges the same entry/exit plus the zeroing at the 4 KiB rate,
  // page_fault_latency + (page_bytes / 4 KiB - 1) * clear_page_latency.
  Cycles page_fault_latency{2600};
  // The part of page_fault_latency that zeroes one 4 KiB page (Linux clear_page()): 4 KiB
  // at about 10 GB/s, one core's streaming-store bandwidth to DRAM on a Skylake-SP server,
  // is ~400 ns, ~1000 cycles at 2.6 GHz (an estimate, not a measurement).
  Cycles clear_page_latency{1000};
  void describe(config::Schema& s);
};

}  // namespace pagesim::os

template <>
struct pagesim::config::EnumNames<pagesim::os::Thp> {
  static constexpr std::array<std::pair<std::string_view, pagesim::os::Thp>, 3> kNames{
      {{"never", pagesim::os::Thp::kNever},
       {"2m", pagesim::os::Thp::k2M},
       {"1g", pagesim::os::Thp::k1G}}};
};
