// Statistics of the native page walker: group "walker", and one group per paging-structure
// cache, "walker.pwc.pd", "walker.pwc.pdpt", "walker.pwc.pml4", "walker.pwc.pml5". The
// PML5E cache exists only with 5-level paging; its group is always declared (it stays at
// zero with 4 levels) so that every configuration yields the same statistic names.
#pragma once

#include "base/stats/stats.h"

namespace pagesim::walker {

struct PscStats : stats::Group {
  using Group::Group;
  // A walk probes the caches deepest first (PDE, PDPTE, PML4E, PML5E) and stops at the
  // first hit; every enabled cache probed without a hit counts a miss.
  stats::Counter hits{*this, "hits", "walks that started from an entry of this cache"};
  stats::Counter misses{*this, "misses", "walks that probed this cache and missed"};
  stats::Counter refs_saved{*this, "refs_saved",
                            "page-table references the hits skipped (levels above and at the "
                            "cached entry's level)"};
};

struct WalkerStats : stats::Group {
  explicit WalkerStats(stats::Group* parent) : Group(parent, "walker") {}

  stats::Counter walks{*this, "walks", "page walks (TLB misses handed to the walker)"};
  stats::Counter refs{*this, "refs", "page-table entry references (8-byte reads) of all walks"};
  stats::Counter cycles{*this, "cycles",
                        "cycles of all walks: the sum of their references'"
                        " memory latencies"};
  stats::Counter faults{*this, "faults", "walks that ended at a not-present entry"};
  stats::Counter ad_updates{*this, "ad_updates",
                            "entries whose accessed or dirty flag a walk set (one locked "
                            "write each; charged no cycles)"};
  stats::Histogram refs_per_walk{*this, "refs_per_walk", "page-table references per walk", 8};
  stats::Histogram cycles_per_walk{*this,
                                   "cycles_per_walk",
                                   "cycles per walk (log2 bins)",
                                   24,
                                   1,
                                   stats::Histogram::Scale::kLog2};

  PscStats pd{this, "pwc.pd"};
  PscStats pdpt{this, "pwc.pdpt"};
  PscStats pml4{this, "pwc.pml4"};
  PscStats pml5{this, "pwc.pml5"};
};

}  // namespace pagesim::walker
