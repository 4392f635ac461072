// The host kernel's memory manager under pressure: free memory against watermarks, the LRU
// lists of anonymous pages, the reclaimer (kswapd and direct reclaim), aging through the
// secondary MMUs, and swap. Seed 000's swap-out path, end to end:
//
//   allocation: free - request < min  -> direct reclaim (the faulting vCPU waits)
//               free < low            -> kswapd reclaims up to high (in the background)
//   reclaim pass (shrink_lruvec, anon lists; reclaim_batch pages, SWAP_CLUSTER_MAX):
//     inactive list short (inactive * sqrt(10 * GiB of the lists) < active,
//     inactive_is_low) -> shrink_active_list: reclaim_batch pages from the active tail
//     to the inactive head, their accessed flags cleared (mmu_notifier clear_young)
//     shrink_folio_list from the inactive tail, each page scanned (host.reclaim.scanned):
//       young (mmu_notifier test_young)? clear it (clear_young); if PG_referenced was set
//         already, activate (a second reference), else set PG_referenced and rotate it to
//         the inactive head (folio_check_references: the second chance)
//       not young: a 2 MiB page with host.thp_reclaim=split is split first (its 512 pieces
//         take its place at the tail, scanned next); evict (VmmMemory::evict): a dirty page (never
//         swapped, written since, or holding contents) needs swap room, else it is activated (no
//         swap: nothing but clean pages can go); invalidate_range_start/end zaps the secondary
//         MMU's entries and shoots down every vCPU's TLBs; a dirty page is written
//         (host.swap.outs), a clean one with a valid swap copy dropped; the frame freed
//         (host.reclaim.reclaimed)
//   a fault on an evicted page: a refault (host.refaults), a swap-in if it was swapped
//
// Watermarks, swap and costs: reclaim_params.h. The order is deterministic: lists and
// scans follow the trace, nothing is random.
//
// Shared memory (a memfd, vm.backing=memfd) is swap-backed like anonymous memory and shares
// its lists; VmmMemory::evict unmaps such a page before it needs swap (vmm_memory.h).
//
// Not modelled: file pages on disk (guest RAM is anonymous or shmem), the reclaim priority loop
// (one pass scans at most the lists' length twice), multi-generational LRU, swap
// readahead, zswap, cgroups, NUMA, compaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/hostmm/frame_lru.h"
#include "models/hostmm/mmu_notifier.h"
#include "models/hostmm/reclaim_params.h"
#include "models/hostmm/swap_space.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"

namespace pagesim::hostmm {

class VmmMemory;

// Statistics of the host: group "host" (beside the VMM process's page-table "host"
// counters), "mmu_notifier" and "tlb".
struct HostMmStats {
  explicit HostMmStats(stats::Group* parent);

  stats::Group host;
  stats::Counter scanned;
  stats::Counter reclaimed;
  stats::Counter activated;
  stats::Counter kswapd_wakeups;
  stats::Counter direct_reclaims;
  stats::Counter swap_outs;
  stats::Counter swap_ins;
  stats::Counter refaults;
  stats::Counter dropped;
  stats::Counter madvised;
  stats::Counter reclaim_cycles;
  stats::Counter thp_splits;
  stats::Group notifier;
  stats::Counter invalidate_range;
  stats::Counter clear_young;
  stats::Counter test_young;
  stats::Group tlb;
  stats::Counter shootdowns;
};

class HostMm {
 public:
  // The owner index of host.load's pages (no VMM process, no secondary MMU).
  static constexpr std::uint8_t kLoadOwner = 255;

  // `memory` and `frames` are the host's (host.memory bytes) and must outlive this.
  HostMm(const ReclaimParams& params, std::uint64_t memory_bytes, mem::PhysicalMemory& memory,
         mem::FrameAllocator& frames, stats::Group* parent);
  HostMm(const HostMm&) = delete;
  HostMm& operator=(const HostMm&) = delete;

  // A VMM process whose anonymous pages go on the LRU; returns its owner index (0, 1, ...).
  std::uint8_t attach(VmmMemory& process);
  // host.load: takes that many bytes of 4 KiB frames for another process, on the LRU.
  void take_load(std::uint64_t bytes);

  // Before an allocation of about `bytes` (a fault: the page and its tables): direct reclaim
  // while free memory would fall below min, then kswapd if it is below low. Returns the
  // cycles the faulting vCPU waits (direct reclaim's swap writes). Throws mem::OutOfMemory
  // naming the state when direct reclaim frees nothing and the request does not fit.
  Cycles reserve(std::uint64_t bytes);

  // A page just faulted in: the head of the inactive list (lru_cache_add_inactive).
  void lru_add(std::uint8_t owner, Hva base, Hpa hpa, PageSize size);
  // A page leaving (madvise DONTNEED): off its list.
  void lru_remove(Hpa hpa) { m_lru.remove(frame_of(hpa)); }
  // MADV_COLD: to the head of the inactive list, PG_referenced cleared.
  void lru_deactivate(Hpa hpa);
  bool on_lru(Hpa hpa) const { return m_lru.contains(frame_of(hpa)); }

  // One reclaim pass aiming at `pages` 4 KiB pages (see the file comment). `direct`: the
  // vCPU waits for the swap writes (their cycles are returned).
  struct Pass {
    std::uint64_t reclaimed = 0;  // 4 KiB pages freed
    Cycles cycles;                // direct reclaim: what the vCPU waits
  };
  Pass shrink(std::uint64_t pages, bool direct);

  // A resident 2 MiB page split outside reclaim (VmmMemory::madvise on part of it, after
  // VmmMemory::split_huge): its frame becomes 512 frames in use and its LRU entry 512
  // entries in its place, in address order (lru_add_split_folio). Not counted in
  // host.reclaim.thp_splits.
  void split_page(Hpa hpa);
  // MADV_PAGEOUT of one resident page: evicted now, references ignored (reclaim_pages).
  // Returns false if it could not go (no swap room).
  bool page_out(Hpa hpa);

  // Notifier calls, counted (mmu_notifier.*, tlb.shootdowns): the VmmMemory calls these.
  bool notify_test_young(MmuNotifier* n, Hva begin, Hva end);
  bool notify_clear_young(MmuNotifier* n, Hva begin, Hva end);
  InvalidateResult notify_invalidate(MmuNotifier* n, std::uint32_t vcpus, Hva begin, Hva end);

  SwapSpace& swap() { return m_swap; }
  const ReclaimParams& params() const { return m_params; }
  HostMmStats& stats() { return m_stats; }
  const Watermarks::Bytes& watermarks() const { return m_marks; }
  std::uint64_t free_bytes() const { return m_frames.free_bytes(); }
  const FrameLru& lru() const { return m_lru; }
  mem::FrameAllocator& frames() { return m_frames; }
  // Invalidations so far (a change tells --check to audit).
  std::uint64_t invalidations() const { return m_stats.invalidate_range.value(); }
  // Frames in use plus free frames (plus the allocator's alignment gaps) equal the host's
  // managed memory; every LRU page is in use. The reason when not, else "".
  std::string audit_accounting() const;

 private:
  static std::uint32_t frame_of(Hpa hpa) { return static_cast<std::uint32_t>(hpa.value() >> 12); }
  bool inactive_is_low() const;
  void shrink_active(std::uint64_t pages);
  // Evicts the page of `frame` (on the inactive list); false: it cannot go (activated).
  bool evict(std::uint32_t frame, bool direct, Cycles& cycles);
  bool page_young(const FrameLru::Page& p, bool clear);
  // host.thp_reclaim=split: the 2 MiB page of `frame` split in place (VMM table, frame,
  // LRU), before its pieces are reclaimed.
  void split_huge(std::uint32_t frame);

  ReclaimParams m_params;
  Watermarks::Bytes m_marks;
  mem::PhysicalMemory& m_memory;
  mem::FrameAllocator& m_frames;
  HostMmStats m_stats;
  FrameLru m_lru;
  SwapSpace m_swap;
  std::vector<VmmMemory*> m_owners;
  std::uint64_t m_load_swapped = 0;  // host.load pages on swap
};

}  // namespace pagesim::hostmm
