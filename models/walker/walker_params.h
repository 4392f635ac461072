// Parameters of the page walker and its paging-structure caches (Intel SDM Vol. 3A, 4.10.3
// "Paging-Structure Caches"): a PML5E cache (5-level paging only), a PML4E cache, a PDPTE
// cache and a PDE cache, each indexed by the linear-address bits that select its entry.
// Intel documents neither their sizes nor their organisation; the defaults are the small
// sizes reverse-engineering studies report for recent Intel cores (PDE cache 32 entries,
// PDPTE 4, PML4E 2), an approximation to be replaced by measurements where they exist.
#pragma once

#include <cstdint>

#include "base/config/schema.h"

namespace pagesim::walker {

struct PscParams {
  std::uint32_t entries = 0;
  std::uint32_t ways = 1;
  void describe(config::Schema& s);
};

struct PwcParams {
  bool enabled = true;  // all paging-structure caches on or off
  PscParams pml5{.entries = 2, .ways = 2};
  PscParams pml4{.entries = 2, .ways = 2};
  PscParams pdpt{.entries = 4, .ways = 4};
  PscParams pd{.entries = 32, .ways = 4};
  void describe(config::Schema& s);
};

struct WalkerParams {
  PwcParams pwc;
  void describe(config::Schema& s) { s.group("pwc", pwc); }
};

}  // namespace pagesim::walker
