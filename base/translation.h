// A completed translation: what a walk produces and a TLB entry holds.
#pragma once

#include "base/address.h"
#include "base/page_size.h"

namespace pagesim {

struct Translation {
  Hpa page_base;  // host-physical address of the page's first byte
  PageSize size = PageSize::k4K;
  bool writable = true;    // R/W of every level
  bool user = true;        // U/S of every level
  bool executable = true;  // no XD at any level
  // The leaf's dirty flag when the entry was made. A store through an entry with
  // dirty == false must walk again to set D (Intel SDM Vol. 3A, 4.8 "Accessed and Dirty
  // Flags" and 4.10.2.3): the TLB does not set it on its own.
  bool dirty = false;
  // The size of the page that the paging structures the hardware walked map (the guest's
  // page in nested mode, the shadow leaf's in shadow mode, the table's own natively); size
  // may be smaller (a guest 2 MiB page under 4 KiB EPT pages, or a TLB splinter). INVLPG of
  // any address in that page removes every entry made from it (SDM Vol. 3A 4.10.2.3,
  // 4.10.4.1). A value below size means size.
  PageSize linear_size = PageSize::k4K;

  // The host-physical address of `offset_in_page` bytes into the page.
  Hpa hpa_of(std::uint64_t gva) const {
    return Hpa(page_base.value() | (gva & (page_bytes(size) - 1)));
  }
};

}  // namespace pagesim
