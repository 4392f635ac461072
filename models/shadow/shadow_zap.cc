// Zaps of many shadow pages at once (arch/x86/kvm/mmu/mmu.c): the tables of a freed
// guest frame, a GPA range (a memslot's change: kvm_zap_gfn_range), kvm_mmu_zap_all_fast and
// kvm_mmu_zap_all.
#include <algorithm>

#include "models/shadow/shadow_mmu.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

// ---- Zaps.

void ShadowMmu::zap_table_pages(std::span<const Gpa> tables) {
  const std::uint64_t zaps = m_stats.zaps.value();
  for (const Gpa t : tables) {
    if (const std::vector<std::uint32_t>* pages = shadowed(t.value() >> spte::kGfnShift)) {
      const std::vector<std::uint32_t> copy = *pages;
      for (const std::uint32_t sp : copy) {
        if (m_pages[sp].live) {
          zap_page(sp);
        }
      }
    }
  }
  if (m_stats.zaps.value() != zaps) {
    ++m_stats.flush_requests;  // one commit of the batch
  }
}

void ShadowMmu::zap_gpa_range(Gpa begin, Gpa end) {
  const std::uint64_t first = begin.value() >> spte::kGfnShift;
  const std::uint64_t last = (end.value() + page_bytes(PageSize::k4K) - 1) >> spte::kGfnShift;
  std::vector<std::uint32_t> doomed;
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    const ShadowPage& p = m_pages[sp];
    if (!p.live) {
      continue;
    }
    const std::uint64_t span = p.direct ? spte::pages_per_hpage(p.level + 1) : 1;
    if (p.gfn < last && p.gfn + span > first) {
      doomed.push_back(sp);
    }
  }
  for (const std::uint32_t sp : doomed) {
    if (m_pages[sp].live) {
      zap_page(sp);
    }
  }
  bool any = !doomed.empty();
  for_each_present_leaf([&](std::uint32_t sp, unsigned i, std::uint64_t) {
    const ShadowPage& p = m_pages[sp];
    if (p.gfns[i] < last && p.gfns[i] + spte::pages_per_hpage(p.level) > first) {
      zap_spte(sp, i);
      any = true;
    }
  });
  if (any) {
    ++m_stats.flush_requests;
  }
}

void ShadowMmu::zap_all_fast() {
  ++m_stats.zap_all;
  // kvm_mmu_zap_all_fast: every page zapped, but the roots a vCPU holds (root_count:
  // mmu->root and the valid prev_roots) only invalidated, freed at its next entry.
  // Each vCPU's: a root two vCPUs hold is freed by the second one's drop (load_root).
  m_obsolete_roots = held_roots(m_root, m_prev_roots);
  for (std::size_t v = 0; v < m_parked.size(); ++v) {
    if (v != m_vcpu) {
      m_parked[v].obsolete_roots = held_roots(m_parked[v].root, m_parked[v].prev_roots);
    }
  }
  zap_all();
}

std::vector<std::uint64_t> ShadowMmu::held_roots(
    std::uint32_t root, const std::vector<std::uint64_t>& prev_roots) const {
  std::vector<std::uint64_t> held;
  if (root != kNone) {
    held.push_back(m_pages[root].serial);
  }
  for (const std::uint64_t g : prev_roots) {
    const auto it = m_hash.find(key(g >> spte::kGfnShift, m_levels, false, pte::kAllRights));
    if (it != m_hash.end() && m_pages[it->second].live) {
      held.push_back(m_pages[it->second].serial);
    }
  }
  return held;
}

void ShadowMmu::zap_all() {
  if (m_live != 0) {
    ++m_stats.flush_requests;
  }
  // Every page goes: no need to unlink one from another.
  for (std::uint32_t sp = 0; sp < m_pages.size(); ++sp) {
    if (m_pages[sp].live) {
      ++m_stats.zaps;
      free_page(sp);
    }
  }
  m_rmap.clear();  // every leaf went with its page
  m_active.clear();
  flush_all();
}

}  // namespace pagesim::shadow
