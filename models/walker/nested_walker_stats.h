// Statistics of the 2D walker: group "walker" (the nested walker replaces the native one in
// nested mode, under the same names where they mean the same), with
//
//   walker.walks, .refs, .refs.guest, .refs.host, .cycles, .ad_updates, .guest_faults,
//   .ept_violations, .refs_per_walk, .cycles_per_walk
//   walker.cells.g<g>h<h>   references per (guest level, EPT level) cell, g = 5..0, h = 5..0
//                           except (0, 0): all 35 declared whatever the levels, so every
//                           configuration has the same names (a Histogram is 1-D)
//   walker.pwc.{pd,pdpt,pml4,pml5}.*       guest paging-structure caches
//   walker.ept_pwc.{pd,pdpt,pml4,pml5}.*   EPT paging-structure caches
//   walker.ntlb.*, walker.pte_cache.*      nested TLB, page-walk cache by HPA
// each cache with hits, misses and refs_saved.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "base/stats/stats.h"

namespace pagesim::walker {

inline constexpr unsigned kMaxNestedLevels = 5;
inline constexpr unsigned kCellStride = kMaxNestedLevels + 1;  // h = 0..5
inline constexpr unsigned kCells = kCellStride * kCellStride;

// The index of cell (g, h) in the per-cell arrays and in NestedWalkResult::cells.
constexpr unsigned cell_index(unsigned g, unsigned h) { return g * kCellStride + h; }

struct WalkCacheStats : stats::Group {
  using Group::Group;
  stats::Counter hits{*this, "hits", "lookups that found an entry"};
  stats::Counter misses{*this, "misses", "lookups that found none"};
  stats::Counter refs_saved{*this, "refs_saved",
                            "references the hits skipped, counted as a walk with every cache "
                            "off would have made them"};
};

struct NestedWalkerStats : stats::Group {
  explicit NestedWalkerStats(stats::Group* parent) : Group(parent, "walker") {
    for (unsigned g = 0; g <= kMaxNestedLevels; ++g) {
      for (unsigned h = 0; h <= kMaxNestedLevels; ++h) {
        if (g == 0 && h == 0) {
          continue;  // the data access itself, not a page-table reference
        }
        const std::string what =
            h == 0   ? "reads of the guest level-" + std::to_string(g) + " entry"
            : g == 0 ? "EPT level-" + std::to_string(h) + " reads for the data GPA"
                     : "EPT level-" + std::to_string(h) + " reads for the guest level-" +
                           std::to_string(g) + " table GPA";
        m_cell_storage[cell_index(g, h)] = std::make_unique<stats::Counter>(
            *this, "cells.g" + std::to_string(g) + "h" + std::to_string(h), what);
        cells[cell_index(g, h)] = m_cell_storage[cell_index(g, h)].get();
      }
    }
  }

  stats::Counter walks{*this, "walks", "2D page walks (TLB misses handed to the walker)"};
  stats::Counter refs{*this, "refs", "page-table references of all walks (guest and EPT)"};
  stats::Counter refs_guest{*this, "refs.guest", "reads of guest page-table entries (h = 0)"};
  stats::Counter refs_host{*this, "refs.host", "reads of EPT/NPT entries (h >= 1)"};
  stats::Counter cycles{*this, "cycles", "cycles of all walks: their references' latencies"};
  stats::Counter guest_faults{*this, "guest_faults",
                              "walks that ended at a not-present guest entry"};
  stats::Counter ept_violations{*this, "ept_violations",
                                "walks that ended at a not-present EPT/NPT entry"};
  stats::Counter ad_updates{*this, "ad_updates",
                            "guest and EPT entries whose accessed or dirty flag a walk set "
                            "(one locked write each; charged no cycles)"};
  stats::Histogram refs_per_walk{*this, "refs_per_walk", "page-table references per walk", 37};
  stats::Histogram cycles_per_walk{*this,
                                   "cycles_per_walk",
                                   "cycles per walk (log2 bins)",
                                   24,
                                   1,
                                   stats::Histogram::Scale::kLog2};

  WalkCacheStats pwc_pd{this, "pwc.pd"};
  WalkCacheStats pwc_pdpt{this, "pwc.pdpt"};
  WalkCacheStats pwc_pml4{this, "pwc.pml4"};
  WalkCacheStats pwc_pml5{this, "pwc.pml5"};
  WalkCacheStats ept_pwc_pd{this, "ept_pwc.pd"};
  WalkCacheStats ept_pwc_pdpt{this, "ept_pwc.pdpt"};
  WalkCacheStats ept_pwc_pml4{this, "ept_pwc.pml4"};
  WalkCacheStats ept_pwc_pml5{this, "ept_pwc.pml5"};
  WalkCacheStats ntlb{this, "ntlb"};
  WalkCacheStats pte_cache{this, "pte_cache"};

  // Per-cell counters by cell_index(g, h); null at (0, 0), which no reference has.
  std::array<stats::Counter*, kCells> cells{};

 private:
  std::array<std::unique_ptr<stats::Counter>, kCells> m_cell_storage;
};

}  // namespace pagesim::walker
