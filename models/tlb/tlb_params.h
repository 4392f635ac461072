// Parameters of the TLBs. Defaults: Intel Skylake-SP (Xeon Scalable, e.g. Xeon Gold 6142),
// from the Intel 64 and IA-32 Architectures Optimization Reference Manual (248966-045,
// Table 2-15, Skylake TLB parameters; Skylake Server has the same TLBs):
//   DTLB  4 KiB: 64 entries, 4-way;  2/4 MiB: 32 entries, 4-way;  1 GiB: 4 entries, 4-way
//   ITLB  4 KiB: 128 entries, 8-way; 2/4 MiB: 8 entries, fully associative (8-way)
//   STLB  4 KiB and 2 MiB shared: 1536 entries, 12-way;  1 GiB: 16 entries, 4-way
// Latencies are not in the manual; see each key's note.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"

namespace pagesim::tlb {

enum class Replacement : std::uint8_t { kLru, kTreePlru, kRandom };

// One set-associative array. entries == 0 means the level has no array for that size.
struct TlbArrayParams {
  std::uint32_t entries = 0;
  std::uint32_t ways = 1;
};

// One TLB level: an array for 4 KiB pages (which may also hold 2 MiB pages, as the STLB
// does), and optional separate arrays for 2 MiB and 1 GiB pages (split arrays as on Intel).
struct TlbParams {
  TlbArrayParams small;    // keys entries, ways: the 4 KiB array
  TlbArrayParams huge_2m;  // keys entries_2m, ways_2m
  TlbArrayParams huge_1g;  // keys entries_1g, ways_1g
  bool shared_2m = false;  // 2 MiB pages live in the 4 KiB array (huge_2m unused)
  Cycles latency{0};       // cycles this level adds to a lookup that reaches it
  Replacement replacement = Replacement::kLru;

  void describe(config::Schema& s);
};

struct TlbHierarchyParams {
  TlbParams l1d{.small = {64, 4}, .huge_2m = {32, 4}, .huge_1g = {4, 4}, .latency = Cycles(0)};
  TlbParams l1i{.small = {128, 8}, .huge_2m = {8, 8}, .huge_1g = {0, 1}, .latency = Cycles(0)};
  TlbParams l2{.small = {1536, 12},
               .huge_2m = {0, 1},
               .huge_1g = {16, 4},
               .shared_2m = true,
               .latency = Cycles(9)};

  void describe(config::Schema& s);
};

}  // namespace pagesim::tlb

template <>
struct pagesim::config::EnumNames<pagesim::tlb::Replacement> {
  static constexpr std::array<std::pair<std::string_view, pagesim::tlb::Replacement>, 3> kNames{
      {{"lru", pagesim::tlb::Replacement::kLru},
       {"tree_plru", pagesim::tlb::Replacement::kTreePlru},
       {"random", pagesim::tlb::Replacement::kRandom}}};
};
