// The shadow MMU's answers to the host's mmu_notifier (arch/x86/kvm/mmu/mmu.c,
// virt/kvm/kvm_main.c): aging (kvm_age_gfn, kvm_test_age_gfn) and invalidation
// (kvm_unmap_gfn_range) of the leaves over a range of the VMM's addresses.
#include <algorithm>

#include "models/shadow/shadow_mmu.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

void ShadowMmu::age() {
  const std::uint64_t drops = m_stats.aging_drops.value();
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t spte) {
    if ((spte & pte::kAccessed) != 0) {
      write_spte(sp, i, spte & ~pte::kAccessed);  // no flush: as ptep_clear_young on x86
      ++m_stats.aged;
    } else {
      zap_spte(sp, i);
      ++m_stats.aging_drops;
    }
  });
  if (m_stats.aging_drops.value() != drops) {
    ++m_stats.flush_requests;
  }
}

// ---- The host's mmu_notifier.

void ShadowMmu::collect_leaves(Hva begin, Hva end) {
  m_rmap_scratch.clear();
  host::for_each_gpa_range(m_vmm.memslots(), begin, end, [&](Gpa first, std::uint64_t bytes) {
    const std::uint64_t lo = first.value() >> spte::kGfnShift;
    const std::uint64_t hi = (first.value() + bytes - 1) >> spte::kGfnShift;
    for (unsigned level = pte::kPt; level <= ShadowRmap::kLevels; ++level) {
      m_rmap.collect(level, lo, hi, m_rmap_scratch);
    }
  });
}

bool ShadowMmu::test_young(Hva begin, Hva end) {
  collect_leaves(begin, end);
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    if ((read_spte(e.page, e.index) & pte::kAccessed) != 0) {
      return true;
    }
  }
  return false;
}

bool ShadowMmu::clear_young(Hva begin, Hva end) {
  collect_leaves(begin, end);
  bool young = false;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    if ((spte & pte::kAccessed) != 0) {
      // No flush (kvm_mmu_notifier_clear_young): a cached translation keeps the page
      // reachable without setting A again, which only makes it look older.
      write_spte(e.page, e.index, spte & ~pte::kAccessed);
      ++m_stats.rmap_aged;
      young = true;
    }
  }
  return young;
}

hostmm::InvalidateResult ShadowMmu::invalidate_range(Hva begin, Hva end) {
  m_vmm.save_contents(begin, end);
  collect_leaves(begin, end);
  hostmm::InvalidateResult r;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    // mmu_spte_clear_track_bits: a dirty or writable leaf makes the page dirty.
    if ((spte & (pte::kDirty | pte::kRw)) != 0) {
      r.dirty = true;
    }
    zap_spte(e.page, e.index);  // requests the flush of every TLB entry
    ++r.zapped;
    ++m_stats.rmap_zaps;
  }
  r.flushed = r.zapped != 0;
  if (r.flushed) {
    ++m_stats.flush_requests;  // one per notifier call (kvm_mmu_notifier_invalidate_range_start)
  }
  return r;
}

}  // namespace pagesim::shadow
