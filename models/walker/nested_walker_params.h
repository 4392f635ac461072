// Parameters of the 2D walker's own caches (models/walker/nested_walker.h), under
// `walker.`: the guest paging-structure caches are the native walker's (`walker.pwc.*`,
// WalkerParams); these add
//
//   walker.ept_pwc.*    EPT paging-structure caches: enabled, pd/pdpt/pml4/pml5.entries,ways
//   walker.ntlb.*       nested TLB (GPA -> HPA of guest page-table pages): enabled, entries, ways
//   walker.pte_cache.*  page-walk cache of non-leaf entries by HPA: enabled, entries, ways
//
// Defaults model the reference machine, a recent Intel server core: EPT paging-structure
// caches on with the guest PSCs' sizes (Intel documents neither; the SDM, Vol. 3C "Caching
// Translation Information", allows caching EPT PML4Es, PDPTEs and PDEs), no nested TLB and
// no page-walk cache by physical address (both AMD designs: Bhargava et al., "Accelerating
// Two-Dimensional Page Walks for Virtualized Systems", ASPLOS 2008; Barr et al.,
// "Translation Caching: Skip, Don't Walk", ISCA 2010). Their sizes when enabled (16 and 32
// entries) are assumptions, not published figures.
#pragma once

#include <cstdint>

#include "base/config/schema.h"
#include "models/walker/walker_params.h"

namespace pagesim::walker {

struct WalkCacheParams {
  bool enabled = false;
  std::uint32_t entries = 16;  // 0: off, as enabled = false
  std::uint32_t ways = 4;
  void describe(config::Schema& s);
  bool on() const { return enabled && entries != 0; }
};

struct NestedWalkerParams {
  PwcParams ept_pwc;  // same shape and defaults as the guest PSCs (walker.pwc)
  WalkCacheParams ntlb{.enabled = false, .entries = 16, .ways = 4};
  WalkCacheParams pte_cache{.enabled = false, .entries = 32, .ways = 4};
  void describe(config::Schema& s);
};

}  // namespace pagesim::walker
