#include "models/hostmm/host_mm.h"

#include <cmath>
#include <stdexcept>

#include "base/hex.h"
#include "models/hostmm/vmm_memory.h"

namespace pagesim::hostmm {

HostMmStats::HostMmStats(stats::Group* parent)
    : host(parent, "host"),
      scanned(host, "reclaim.scanned", "pages the reclaimer examined on the inactive list"),
      reclaimed(host, "reclaim.reclaimed", "4 KiB pages the reclaimer freed"),
      activated(host, "reclaim.activated",
                "pages moved to the active list (referenced twice on the inactive list)"),
      kswapd_wakeups(host, "reclaim.kswapd_wakeups", "kswapd runs (free memory below low)"),
      direct_reclaims(host, "reclaim.direct",
                      "reclaim passes run by a faulting vCPU (free memory below min)"),
      swap_outs(host, "swap.outs", "4 KiB pages written to swap"),
      swap_ins(host, "swap.ins", "4 KiB pages read back from swap"),
      refaults(host, "refaults",
               "host faults on pages evicted before (reclaim, madvise, balloon); first "
               "touches are not refaults"),
      dropped(host, "reclaim.dropped_clean",
              "4 KiB pages evicted without a write (clean, their swap copy still valid)"),
      madvised(host, "madvise_pages", "4 KiB pages a !madvise or !balloon event acted on"),
      reclaim_cycles(host, "reclaim.cycles", "cycles vCPUs waited in direct reclaim (swap writes)"),
      thp_splits(host, "reclaim.thp_splits",
                 "huge host pages split before reclaim (host.thp_reclaim=split)"),
      notifier(parent, "mmu_notifier"),
      invalidate_range(notifier, "invalidate_range",
                       "invalidate_range_start/end calls (one per evicted or dropped page)"),
      clear_young(notifier, "clear_young", "clear_young calls (aging: accessed flags cleared)"),
      test_young(notifier, "test_young", "test_young calls (aging: accessed flags read)"),
      tlb(parent, "tlb"),
      shootdowns(tlb, "shootdowns",
                 "vCPU TLB shootdowns by invalidations (each flush: every vCPU of the VM)") {}

HostMm::HostMm(const ReclaimParams& params, std::uint64_t memory_bytes, mem::PhysicalMemory& memory,
               mem::FrameAllocator& frames, stats::Group* parent)
    : m_params(params),
      m_marks(params.watermarks.effective(memory_bytes)),
      m_memory(memory),
      m_frames(frames),
      m_stats(parent),
      m_swap(params.swap.bytes / (4 * kKiB)) {
  if (!(m_marks.min <= m_marks.low && m_marks.low <= m_marks.high)) {
    throw std::invalid_argument(
        "host.watermarks: need min <= low <= high (min " + std::to_string(m_marks.min) + ", low " +
        std::to_string(m_marks.low) + ", high " + std::to_string(m_marks.high) + " bytes)");
  }
}

std::uint8_t HostMm::attach(VmmMemory& process) {
  if (m_owners.size() >= kLoadOwner) {
    throw std::invalid_argument("host: too many VMM processes (at most 255)");
  }
  m_owners.push_back(&process);
  return static_cast<std::uint8_t>(m_owners.size() - 1);
}

void HostMm::take_load(std::uint64_t bytes) {
  // Another process's anonymous memory, touched once at start: 4 KiB pages at HVAs of its
  // own (numbered from 0), on the LRU like the VMs' pages.
  for (std::uint64_t off = 0; off < bytes; off += 4 * kKiB) {
    reserve(4 * kKiB);
    const Hpa hpa = m_frames.allocate(PageSize::k4K);
    lru_add(kLoadOwner, Hva(off), hpa, PageSize::k4K);
  }
}

Cycles HostMm::reserve(std::uint64_t bytes) {
  Cycles waited;
  // Direct reclaim (__alloc_pages_slowpath -> __alloc_pages_direct_reclaim) while the
  // allocation would take free memory below min.
  while (m_frames.free_bytes() < m_marks.min + bytes) {
    ++m_stats.direct_reclaims;
    const Pass p = shrink(m_params.reclaim_batch, /*direct=*/true);
    waited += p.cycles;
    if (p.reclaimed == 0) {
      if (m_frames.free_bytes() >= bytes) {
        break;  // below min but it fits: the allocation dips into the reserve
      }
      throw mem::OutOfMemory("host memory exhausted: " + std::to_string(m_frames.free_bytes()) +
                             " bytes free, an allocation of " + std::to_string(bytes) +
                             " bytes, and reclaim freed nothing (LRU: " +
                             std::to_string(m_lru.pages(LruList::kActive)) + " active + " +
                             std::to_string(m_lru.pages(LruList::kInactive)) +
                             " inactive 4 KiB pages; swap " + std::to_string(m_swap.used_pages()) +
                             " of " + std::to_string(m_swap.capacity_pages()) +
                             " pages used): raise host.memory or host.swap");
    }
  }
  // kswapd, woken below low, reclaims up to high (wakeup_kswapd -> balance_pgdat). It runs
  // beside the vCPU: its work is not charged (its shootdowns are, to the vCPUs they hit).
  if (m_frames.free_bytes() < m_marks.low) {
    ++m_stats.kswapd_wakeups;
    while (m_frames.free_bytes() < m_marks.high) {
      if (shrink(m_params.reclaim_batch, /*direct=*/false).reclaimed == 0) {
        break;  // nothing more to reclaim now; direct reclaim will try again
      }
    }
  }
  m_stats.reclaim_cycles += waited.count();
  return waited;
}

void HostMm::lru_add(std::uint8_t owner, Hva base, Hpa hpa, PageSize size) {
  m_lru.add({.frame = frame_of(hpa), .owner = owner, .hva = base, .size = size},
            LruList::kInactive);
}

void HostMm::lru_deactivate(Hpa hpa) {
  m_lru.move_to_head(frame_of(hpa), LruList::kInactive, /*referenced=*/false);
}

bool HostMm::inactive_is_low() const {
  // mm/vmscan.c inactive_is_low: inactive * sqrt(10 * GiB) < active, the GiB of both lists.
  const std::uint64_t inactive = m_lru.pages(LruList::kInactive);
  const std::uint64_t active = m_lru.pages(LruList::kActive);
  const std::uint64_t gib = (inactive + active) >> (30 - 12);
  const auto ratio =
      gib != 0 ? static_cast<std::uint64_t>(std::sqrt(static_cast<double>(10 * gib))) : 1;
  return inactive * ratio < active;
}

bool HostMm::page_young(const FrameLru::Page& p, bool clear) {
  if (p.owner == kLoadOwner) {
    return false;  // host.load never touches its pages again
  }
  VmmMemory& vmm = *m_owners[p.owner];
  return clear ? vmm.clear_young(p.hva, p.size) : vmm.test_young(p.hva, p.size);
}

void HostMm::shrink_active(std::uint64_t pages) {
  // shrink_active_list: from the active tail to the inactive head; anonymous pages go
  // whether referenced or not, their accessed flags cleared (folio_referenced).
  std::uint64_t moved = 0;
  while (moved < pages) {
    const std::uint32_t frame = m_lru.tail(LruList::kActive);
    if (frame == FrameLru::kNil) {
      return;
    }
    const FrameLru::Page p = m_lru.page(frame);
    page_young(p, /*clear=*/true);
    m_lru.move_to_head(frame, LruList::kInactive, /*referenced=*/false);
    moved += page_bytes(p.size) >> 12;
  }
}

HostMm::Pass HostMm::shrink(std::uint64_t pages, bool direct) {
  Pass pass;
  if (inactive_is_low()) {
    shrink_active(pages);
  }
  // At most the lists' length twice: a young page is rotated once and activated the second
  // time, so two passes over everything see every page that can go.
  std::uint64_t budget =
      2 * (m_lru.pages(LruList::kInactive) + m_lru.pages(LruList::kActive)) + pages;
  while (pass.reclaimed < pages && budget > 0) {
    std::uint32_t frame = m_lru.tail(LruList::kInactive);
    if (frame == FrameLru::kNil) {
      if (m_lru.tail(LruList::kActive) == FrameLru::kNil) {
        break;
      }
      shrink_active(pages);
      continue;
    }
    const FrameLru::Page p = m_lru.page(frame);
    const std::uint64_t n = page_bytes(p.size) >> 12;
    budget = budget > n ? budget - n : 0;
    ++m_stats.scanned;
    if (page_young(p, /*clear=*/false)) {
      page_young(p, /*clear=*/true);
      if (p.referenced) {
        ++m_stats.activated;
        m_lru.move_to_head(frame, LruList::kActive, /*referenced=*/false);
      } else {
        m_lru.move_to_head(frame, LruList::kInactive, /*referenced=*/true);
      }
      continue;
    }
    if (p.size == PageSize::k2M && m_params.thp_reclaim == ThpReclaim::kSplit &&
        p.owner != kLoadOwner) {
      split_huge(frame);  // its first piece is the tail now
      continue;
    }
    if (evict(frame, direct, pass.cycles)) {
      pass.reclaimed += n;
    } else {
      ++m_stats.activated;
      m_lru.move_to_head(frame, LruList::kActive, /*referenced=*/false);
    }
  }
  m_stats.reclaimed += pass.reclaimed;
  return pass;
}

void HostMm::split_huge(std::uint32_t frame) {
  const FrameLru::Page p = m_lru.page(frame);
  m_owners[p.owner]->split_huge(p.hva);
  split_page(Hpa(std::uint64_t{frame} << 12));
  // shrink_folio_list's split_folio_to_list: zero-filled pieces map the zero page.
  m_owners[p.owner]->map_unused_to_zero_page(p.hva);
  ++m_stats.thp_splits;
}

void HostMm::split_page(Hpa hpa) {
  m_frames.split_in_use(hpa);
  m_lru.split(frame_of(hpa));
}

bool HostMm::evict(std::uint32_t frame, bool direct, Cycles& cycles) {
  const FrameLru::Page p = m_lru.page(frame);
  const Hpa hpa(std::uint64_t{frame} << 12);
  if (p.owner == kLoadOwner) {
    // The load's pages were written once: each needs a swap slot (never read back).
    if (!m_swap.has_room(1)) {
      return false;
    }
    m_swap.allocate(1);
    ++m_stats.swap_outs;
    if (direct) {
      cycles += m_params.swap_out_latency;
    }
    m_lru.remove(frame);
    m_frames.free(hpa, PageSize::k4K);
    return true;
  }
  VmmMemory& vmm = *m_owners[p.owner];
  if (!vmm.evict(p.hva, hpa, p.size, direct, cycles)) {
    return false;
  }
  m_lru.remove(frame);
  m_frames.free(hpa, p.size);
  return true;
}

bool HostMm::page_out(Hpa hpa) {
  const std::uint32_t frame = frame_of(hpa);
  Cycles ignored;
  const FrameLru::Page p = m_lru.page(frame);
  if (!evict(frame, /*direct=*/false, ignored)) {
    return false;
  }
  m_stats.reclaimed += page_bytes(p.size) >> 12;
  return true;
}

bool HostMm::notify_test_young(MmuNotifier* n, Hva begin, Hva end) {
  ++m_stats.test_young;
  return n != nullptr && n->test_young(begin, end);
}

bool HostMm::notify_clear_young(MmuNotifier* n, Hva begin, Hva end) {
  ++m_stats.clear_young;
  return n != nullptr && n->clear_young(begin, end);
}

InvalidateResult HostMm::notify_invalidate(MmuNotifier* n, std::uint32_t vcpus, Hva begin,
                                           Hva end) {
  ++m_stats.invalidate_range;
  InvalidateResult r;
  if (n != nullptr) {
    r = n->invalidate_range(begin, end);
  }
  if (r.flushed) {
    m_stats.shootdowns += vcpus;
  }
  return r;
}

std::string HostMm::audit_accounting() const {
  const std::uint64_t in_use = m_frames.in_use_bytes();
  const std::uint64_t free = m_frames.free_bytes();
  const std::uint64_t lost = m_frames.unusable_bytes();
  const std::uint64_t total = m_frames.total_bytes();
  if (in_use + free + lost != total) {
    return "host frames: " + std::to_string(in_use) + " bytes in use + " + std::to_string(free) +
           " free + " + std::to_string(lost) + " unusable != " + std::to_string(total) + " managed";
  }
  const std::uint64_t lru_bytes = (m_lru.pages(LruList::kActive) + m_lru.pages(LruList::kInactive))
                                  << 12;
  if (lru_bytes > in_use) {
    return "host LRU holds " + std::to_string(lru_bytes) + " bytes but only " +
           std::to_string(in_use) + " are in use";
  }
  std::string why;
  auto check = [&](const FrameLru::Page& p) {
    if (why.empty() && m_frames.is_free(Hpa(std::uint64_t{p.frame} << 12))) {
      why = "host LRU page at " + hex(std::uint64_t{p.frame} << 12) + " is a free frame";
    }
  };
  m_lru.for_each(LruList::kActive, check);
  m_lru.for_each(LruList::kInactive, check);
  return why;
}

}  // namespace pagesim::hostmm
