// The shadow page-table entry (SPTE) as KVM makes and compares it (arch/x86/kvm/mmu/spte.c,
// spte.h, paging_tmpl.h): pure functions of entry bits, tested directly (spte_test.cc).
// The bit layout is the x86-64 paging entry's (models/paging/pte.h; Intel SDM Vol. 3A,
// 4.5): under shadow paging the processor walks KVM's tables as its own.
#pragma once

#include <cstdint>

#include "base/address.h"
#include "models/paging/pte.h"

namespace pagesim::shadow::spte {

namespace pte = paging::pte;

// A gfn is a guest-physical address over 4 KiB (PAGE_SHIFT).
inline constexpr unsigned kGfnShift = 12;

// KVM_PAGES_PER_HPAGE: 4 KiB pages a leaf at `level` maps (1, 512, 512^2).
constexpr std::uint64_t pages_per_hpage(unsigned level) {
  return std::uint64_t{1} << (9 * (level - 1));
}

// make_spte: the leaf for host frame `page` with guest rights `access`: present, user if
// allowed, XD unless execution is allowed, PS above level 1, A unless prefetched
// (`accessed` false: a speculative SPTE), R/W and D when writable.
inline std::uint64_t make_spte(Hpa page, unsigned level, pte::Rights access, bool writable,
                               bool accessed) {
  std::uint64_t spte =
      (page.value() & pte::page_address_mask(pte::leaf_page_size(level))) | pte::kPresent;
  if ((access & pte::kAllowUser) != 0) {
    spte |= pte::kUser;
  }
  if ((access & pte::kAllowExecute) == 0) {
    spte |= pte::kXd;
  }
  if (level > pte::kPt) {
    spte |= pte::kPs;
  }
  if (accessed) {
    spte |= pte::kAccessed;
  }
  if (writable) {
    spte |= pte::kRw | pte::kDirty;
  }
  return spte;
}

// need_remote_flush: a present entry that went away, moved to another frame, or lost a
// right (W, U, or execution through XD) must be flushed from every vCPU's TLB.
inline bool need_remote_flush(std::uint64_t old_spte, std::uint64_t new_spte) {
  if ((old_spte & pte::kPresent) == 0) {
    return false;
  }
  if ((new_spte & pte::kPresent) == 0) {
    return true;
  }
  if (((old_spte ^ new_spte) & pte::kAddressMask) != 0) {
    return true;
  }
  const std::uint64_t perms_old = (old_spte & (pte::kRw | pte::kUser)) | (~old_spte & pte::kXd);
  const std::uint64_t perms_new = (new_spte & (pte::kRw | pte::kUser)) | (~new_spte & pte::kXd);
  return (perms_old & ~perms_new) != 0;
}

// FNAME(protect_clean_gpte): no write through a shadow leaf before the guest's leaf is
// dirty, so that the first store faults and KVM sets the guest's D bit.
inline pte::Rights protect_clean_gpte(pte::Rights access, std::uint64_t gpte) {
  return (gpte & pte::kDirty) != 0 ? access : static_cast<pte::Rights>(access & ~pte::kAllowWrite);
}

}  // namespace pagesim::shadow::spte
