// Write tracking of the guest's page tables (arch/x86/kvm/mmu/page_track.c and mmu.c):
// write protection of a shadowed gfn, unsync pages (mmu_try_to_unsync_pages), and the
// guest kernel's writes to its tables (kvm_mmu_track_write, detect_write_flooding).
#include <algorithm>

#include "models/shadow/shadow_mmu.h"
#include "models/shadow/spte.h"

namespace pagesim::shadow {

namespace pte = paging::pte;

namespace {

// Emulated writes to an upper-level shadow page, with no fault through it, that zap it
// (detect_write_flooding).
constexpr std::uint8_t kFloodWrites = 3;

}  // namespace

bool ShadowMmu::write_protect_gfn(std::uint64_t gfn, bool count_flush) {
  m_rmap_scratch.clear();
  m_rmap.collect(pte::kPt, gfn, gfn, m_rmap_scratch);
  bool any = false;
  for (const ShadowRmap::Entry& e : m_rmap_scratch) {
    const std::uint64_t spte = read_spte(e.page, e.index);
    if ((spte & pte::kRw) != 0) {
      write_spte(e.page, e.index, spte & ~(pte::kRw | pte::kDirty));
      ++m_stats.write_protected;
      any = true;
    }
  }
  if (any) {
    flush_all();
    if (count_flush) {
      ++m_stats.flush_requests;
    }
  }
  return any;
}

bool ShadowMmu::try_to_unsync(std::uint64_t gfn, bool speculative) {
  const std::vector<std::uint32_t>* pages = shadowed(gfn);
  if (pages == nullptr) {
    return true;
  }
  for (const std::uint32_t sp : *pages) {
    if (m_pages[sp].level > pte::kPt || m_params.wp_policy == WpPolicy::kEmulate ||
        (speculative && !m_pages[sp].unsync)) {
      return false;
    }
  }
  const std::vector<std::uint32_t> copy = *pages;
  for (const std::uint32_t sp : copy) {
    if (!m_pages[sp].unsync) {
      make_unsync(sp);
    }
  }
  return true;
}

void ShadowMmu::make_unsync(std::uint32_t sp) {
  m_pages[sp].unsync = true;
  m_unsync.push_back(sp);
  ++m_stats.unsync;
}

// ---- The guest kernel's writes.

Cycles ShadowMmu::guest_table_write(Gpa gpa) {
  const std::uint64_t gfn = gpa.value() >> spte::kGfnShift;
  const std::vector<std::uint32_t>* pages = shadowed(gfn);
  if (pages == nullptr) {
    return Cycles();  // not a shadowed guest table: an ordinary store
  }
  bool tracked = false;  // an upper-level page: write-tracked, never unsync
  bool all_unsync = true;
  for (const std::uint32_t sp : *pages) {
    tracked |= m_pages[sp].level > pte::kPt;
    all_unsync &= m_pages[sp].unsync;
  }
  if (m_params.wp_policy == WpPolicy::kUnsync && !tracked) {
    if (all_unsync) {
      return Cycles();  // the page is writable for the guest until the next sync
    }
    // The #PF on the write-protected mapping: a fault whose mmu_set_spte unsyncs the pages
    // (mmu_try_to_unsync_pages) instead of write-protecting.
    const Cycles cost = m_exit_params.latency + m_params.page_fault_latency;
    count_exit(m_exits.wp_write, cost);
    const std::vector<std::uint32_t> copy = *pages;
    for (const std::uint32_t sp : copy) {
      if (!m_pages[sp].unsync) {
        make_unsync(sp);
      }
    }
    return cost;
  }

  // Emulated (kvm_mmu_pte_write): the entries made from the old guest entry are zapped.
  const Cycles cost = m_exit_params.latency + m_params.wp_write_latency;
  count_exit(m_exits.wp_write, cost);
  ++m_stats.wp_writes;
  const unsigned index = static_cast<unsigned>((gpa.value() & 0xfff) >> 3);
  const std::vector<std::uint32_t> copy = *pages;
  bool zapped = false;
  for (const std::uint32_t sp : copy) {
    if (!m_pages[sp].live) {
      continue;  // zapped as an unsync child of a flooded page
    }
    if (m_pages[sp].level > pte::kPt && ++m_pages[sp].write_flooding >= kFloodWrites) {
      ++m_stats.flooded;
      zap_page(sp);
      zapped = true;
      continue;
    }
    zapped |= zap_spte(sp, index);
  }
  if (zapped) {
    ++m_stats.flush_requests;  // kvm_mmu_track_write's flush
  }
  return cost;
}

Cycles ShadowMmu::kernel_fault(Cycles host_cycles) {
  const Cycles cost = m_exit_params.latency + m_params.page_fault_latency + host_cycles;
  ++m_stats.kernel_faults;
  count_exit(m_exits.page_fault, cost);
  return cost;
}

Cycles ShadowMmu::guest_frame_zeroed(Gpa frame) {
  const std::vector<std::uint32_t>* pages = shadowed(frame.value() >> spte::kGfnShift);
  if (pages == nullptr) {
    return Cycles();
  }
  const Cycles cost = m_exit_params.latency + m_params.wp_write_latency;
  count_exit(m_exits.wp_write, cost);
  ++m_stats.wp_writes;
  const std::vector<std::uint32_t> copy = *pages;
  for (const std::uint32_t sp : copy) {
    if (m_pages[sp].live) {
      zap_page(sp);
    }
  }
  ++m_stats.flush_requests;
  return cost;
}

}  // namespace pagesim::shadow
