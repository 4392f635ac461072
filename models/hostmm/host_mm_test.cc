// The host's reclaimer over one VMM process whose secondary MMU is a scripted notifier:
// which pages are young is the test's choice, so each count follows from the LRU order
// (host_mm.h) alone. Pages are faulted in ascending HVA order: page i is the i-th oldest.
#include "models/hostmm/host_mm.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "base/stats/stats.h"
#include "models/hostmm/vmm_memory.h"

namespace pagesim::hostmm {
namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t kBase = 0x7f0000000000;

Hva page(std::uint64_t i) { return Hva(kBase + i * 4 * KiB); }

// A secondary MMU whose accessed flags are the set `young` (HVA page numbers).
struct ScriptedMmu : MmuNotifier {
  std::set<std::uint64_t> young;
  std::set<std::uint64_t> dirty;
  std::uint64_t invalidations = 0;
  bool any(Hva b, Hva e, bool clear) {
    bool y = false;
    for (std::uint64_t p = b.value() >> 12; p < e.value() >> 12; ++p) {
      if (young.count(p) != 0) {
        y = true;
        if (clear) {
          young.erase(p);
        }
      }
    }
    return y;
  }
  bool test_young(Hva b, Hva e) override { return any(b, e, false); }
  bool clear_young(Hva b, Hva e) override { return any(b, e, true); }
  InvalidateResult invalidate_range(Hva b, Hva e) override {
    ++invalidations;
    InvalidateResult r{.zapped = 1, .dirty = false, .flushed = true};
    for (std::uint64_t p = b.value() >> 12; p < e.value() >> 12; ++p) {
      r.dirty = r.dirty || dirty.count(p) != 0;
    }
    return r;
  }
};

struct Host {
  explicit Host(std::uint64_t memory_bytes, ReclaimParams params = {},
                os::Thp thp = os::Thp::kNever)
      : memory(memory_bytes),
        frames(memory_bytes, MiB),
        mm(params, memory_bytes, memory, frames, &root),
        vmm(mm, os::OsParams{.thp = thp, .memory = {memory_bytes}}, memory, frames, &root, &root,
            2) {
    vmm.set_notifier(&mmu);
  }
  std::uint64_t stat(const std::string& path) const {
    for (const auto& row : stats::collect(root)) {
      if (row.path == path) {
        return std::get<std::uint64_t>(row.value);
      }
    }
    ADD_FAILURE() << "no statistic " << path;
    return 0;
  }
  Hpa touch(std::uint64_t i, AccessKind kind = AccessKind::kRead) {
    Cycles c;
    bool fault = false;
    return vmm.fault_in(page(i), kind, c, fault).page_base;
  }
  stats::Group root{nullptr, ""};
  mem::PhysicalMemory memory;
  mem::FrameAllocator frames;
  HostMm mm;
  ScriptedMmu mmu;
  VmmMemory vmm;
};

// Watermarks set to 0 bytes take Linux's defaults; 4 KiB each keeps them out of the way.
ReclaimParams quiet() {
  ReclaimParams p;
  p.watermarks.min = p.watermarks.low = p.watermarks.high = config::ByteSize{4 * KiB};
  return p;
}

TEST(Watermarks, LinuxDefaults) {
  // 256 GiB: min = sqrt(16 * 2^28 KiB) = 2^16 KiB = 64 MiB; step = max(16 MiB, 256 GiB /
  // 1000 = 274877906 bytes) = 274877906; low = min + step, high = low + step.
  const Watermarks::Bytes b = Watermarks{}.effective(256ULL << 30);
  EXPECT_EQ(b.min, 64 * MiB);
  EXPECT_EQ(b.low, 64 * MiB + 274877906);
  EXPECT_EQ(b.high, 64 * MiB + 2 * 274877906);
  // 16 MiB: sqrt(16 * 16384) = 512 KiB; step = max(128 KiB, 16777 bytes) = 128 KiB.
  const Watermarks::Bytes s = Watermarks{}.effective(16 * MiB);
  EXPECT_EQ(s.min, 512 * KiB);
  EXPECT_EQ(s.low, 640 * KiB);
  EXPECT_EQ(s.high, 768 * KiB);
  // A tiny machine clamps min to 128 KiB: 1 MiB -> sqrt(16384) = 128 KiB exactly.
  EXPECT_EQ(Watermarks{}.effective(1 * MiB).min, 128 * KiB);
}

TEST(HostMm, NoReclaimWhileMemoryLasts) {
  Host h(64 * MiB, quiet());
  for (std::uint64_t i = 0; i < 100; ++i) {
    h.touch(i);
  }
  EXPECT_EQ(h.stat("host.reclaim.scanned"), 0U);
  EXPECT_EQ(h.stat("host.page_faults"), 100U);
  EXPECT_EQ(h.stat("host.refaults"), 0U);
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 100U);  // new anon pages: inactive
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, SecondChanceThenActivation) {
  Host h(64 * MiB, quiet());
  for (std::uint64_t i = 0; i < 100; ++i) {
    h.touch(i);
  }
  // Pages 0 and 1 young: each rotated to the inactive head with PG_referenced (2 scans, 2
  // clear_young), then 2..11 evicted: 12 scanned, 10 reclaimed, 10 written to swap (never
  // swapped before: dirty), 10 invalidations, each shooting down 2 vCPUs.
  h.mmu.young = {page(0).value() >> 12, page(1).value() >> 12};
  EXPECT_EQ(h.mm.shrink(10, false).reclaimed, 10U);
  EXPECT_EQ(h.stat("host.reclaim.scanned"), 12U);
  EXPECT_EQ(h.stat("host.reclaim.reclaimed"), 10U);
  EXPECT_EQ(h.stat("mmu_notifier.test_young"), 12U);
  EXPECT_EQ(h.stat("mmu_notifier.clear_young"), 2U);
  EXPECT_EQ(h.stat("mmu_notifier.invalidate_range"), 10U);
  EXPECT_EQ(h.stat("tlb.shootdowns"), 20U);
  EXPECT_EQ(h.stat("host.swap.outs"), 10U);
  EXPECT_EQ(h.stat("vm0.reclaimed"), 10U);
  // Inactive, head to tail: 1, 0, 99, ..., 12. Page 0 young again; evicting 88 pages takes
  // 12..99 (88 pages) before reaching it.
  h.mmu.young = {page(0).value() >> 12};
  EXPECT_EQ(h.mm.shrink(88, false).reclaimed, 88U);
  EXPECT_EQ(h.stat("host.reclaim.activated"), 0U);
  // Then page 0 (young, referenced already): activated; page 1 (not young): evicted.
  EXPECT_EQ(h.mm.shrink(1, false).reclaimed, 1U);
  EXPECT_EQ(h.stat("host.reclaim.activated"), 1U);
  EXPECT_EQ(h.mm.lru().pages(LruList::kActive), 1U);
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 0U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, RefaultSwapsInAndACleanPageIsDroppedNextTime) {
  Host h(64 * MiB, quiet());
  const Hpa first = h.touch(0);
  h.memory.write_u64(first + 8, 0x1234);  // contents the model keeps (a guest table word)
  h.touch(1);
  EXPECT_EQ(h.mm.shrink(1, false).reclaimed, 1U);  // page 0, the oldest
  EXPECT_EQ(h.memory.read_u64(first + 8), 0U);     // the freed frame reads zeros
  EXPECT_FALSE(h.vmm.lookup(page(0)).has_value());
  const Hpa back = h.touch(0);
  EXPECT_EQ(h.stat("host.refaults"), 1U);
  EXPECT_EQ(h.stat("host.swap.ins"), 1U);
  EXPECT_EQ(h.stat("vm0.refaults"), 1U);
  EXPECT_EQ(h.memory.read_u64(back + 8), 0x1234U);  // read back from swap
  // Page 1 (never swapped) goes next: a write. Then page 0 again: its swap copy is valid
  // but it holds contents, which the model always writes back.
  h.mm.shrink(2, false);
  EXPECT_EQ(h.stat("host.swap.outs"), 3U);
  // A page whose contents went back to zeros is written once more (its swap copy holds
  // the old words); after that, clean and without contents, it is dropped without a write.
  const Hpa again = h.touch(0);
  EXPECT_EQ(h.memory.read_u64(again + 8), 0x1234U);
  h.memory.write_u64(again + 8, 0);
  h.touch(5);
  h.mm.shrink(1, false);  // page 0 (older than 5): its copy has contents: written
  EXPECT_EQ(h.stat("host.swap.outs"), 4U);
  h.touch(0);
  h.mm.shrink(1, false);  // page 5, never swapped: written
  h.touch(5);
  h.mm.shrink(1, false);  // page 0: clean, its swap copy valid and empty: dropped
  EXPECT_EQ(h.stat("host.swap.outs"), 5U);
  EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 1U);
  // Dirty (the secondary MMU's D flag): written again.
  h.touch(0);
  h.mmu.dirty = {page(0).value() >> 12};
  h.mm.shrink(1, false);  // page 5 is older: evicted first (its copy is valid: dropped)
  h.mm.shrink(1, false);  // page 0, dirty: written
  EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 2U);
  EXPECT_EQ(h.stat("host.swap.outs"), 6U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, DirectReclaimWhenAFaultWouldGoBelowMin) {
  // 8 MiB host, frames from 1 MiB: 1792 frames managed. The VMM's tables: PML4, PDPT, PD
  // and one PT per 512 pages (pages 0, 512, 1024, 1536 start one). reserve() asks for the
  // page plus 16 table frames (68 KiB) above min (4 KiB): direct reclaim once free < 72 KiB
  // = 18 frames. With k pages resident (1536 < k < 2048: 7 table frames), free = 1792 - 7
  // - k, below 18 from k = 1768.
  ReclaimParams p = quiet();
  p.reclaim_batch = 32;
  Host h(8 * MiB, p);
  for (std::uint64_t i = 0; i < 1768; ++i) {
    h.touch(i);
    ASSERT_EQ(h.stat("host.reclaim.direct"), 0U)
        << "page " << i << ", free " << h.frames.free_bytes() / 4096;
  }
  EXPECT_EQ(h.stat("host.reclaim.direct"), 0U);
  h.touch(1768);  // one pass of 32: pages 0..31, none young
  EXPECT_EQ(h.stat("host.reclaim.direct"), 1U);
  EXPECT_EQ(h.stat("host.reclaim.reclaimed"), 32U);
  EXPECT_EQ(h.stat("host.swap.outs"), 32U);
  EXPECT_EQ(h.stat("host.reclaim.cycles"), 32U * p.swap_out_latency.count());
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, KswapdReclaimsUpToHighInTheBackground) {
  ReclaimParams p;
  p.watermarks.min = config::ByteSize{4 * KiB};
  p.watermarks.low = config::ByteSize{100 * 4 * KiB};
  p.watermarks.high = config::ByteSize{200 * 4 * KiB};
  Host h(8 * MiB, p);
  // kswapd wakes when free < low = 100 frames, before a fault: with k pages resident and 7
  // table frames (as above), 1785 - k < 100 from k = 1686 (99 free); it reclaims batches of
  // 32 until free >= 200 frames: 4 batches (128 pages) bring it to 227.
  for (std::uint64_t i = 0; i < 1690; ++i) {
    h.touch(i);
  }
  EXPECT_EQ(h.stat("host.reclaim.kswapd_wakeups"), 1U);
  EXPECT_EQ(h.stat("host.reclaim.reclaimed"), 128U);
  EXPECT_EQ(h.stat("host.reclaim.direct"), 0U);
  EXPECT_EQ(h.stat("host.reclaim.cycles"), 0U);  // kswapd's writes: nobody waits
  EXPECT_EQ(h.vmm.take_pending_cycles(), Cycles(128 * p.shootdown_latency.count()));
  EXPECT_TRUE(h.vmm.take_flush());
}

TEST(HostMm, DontneedDropsAndTheNextTouchIsARefaultOfZeros) {
  Host h(64 * MiB, quiet());
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i);
  }
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(4)), 4U);
  EXPECT_EQ(h.stat("vm0.dropped"), 4U);
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 4U);
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i);
  }
  EXPECT_EQ(h.stat("host.refaults"), 4U);  // the pages dropped
  EXPECT_EQ(h.stat("host.swap.ins"), 0U);  // zero-filled, not read back
  EXPECT_EQ(h.stat("host.page_faults"), 12U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, FreeKeepsPagesUntilReclaimDropsTheCleanOnesWithoutSwap) {
  Host h(64 * MiB, quiet());
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  const std::uint64_t invalidations = h.mmu.invalidations;
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(4)), 4U);
  // madvise_free_single_vma: one notifier call over the range; the pages stay resident.
  EXPECT_EQ(h.mmu.invalidations - invalidations, 1U);
  EXPECT_TRUE(h.vmm.lookup(page(0)).has_value());
  EXPECT_EQ(h.stat("vm0.dropped"), 0U);
  // The guest writes page 1 again (its secondary-MMU leaf is dirty at the next zap).
  h.mmu.dirty = {page(1).value() >> 12};
  // Reclaim of the four: the clean lazily freed pages go without swap (3), the written one
  // is an ordinary dirty page and is swapped (1).
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(4)), 4U);
  EXPECT_EQ(h.stat("host.swap.outs"), 1U);
  EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 3U);
  // They refault: three zero-filled, one read back from swap.
  for (std::uint64_t i = 0; i < 4; ++i) {
    h.touch(i);
  }
  EXPECT_EQ(h.stat("host.refaults"), 4U);
  EXPECT_EQ(h.stat("host.swap.ins"), 1U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, PageoutEvictsNowAndColdDeactivates) {
  Host h(64 * MiB, quiet());
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i);
  }
  h.mmu.young = {page(6).value() >> 12};  // references do not stop MADV_PAGEOUT
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(4), page(8)), 4U);
  EXPECT_EQ(h.stat("host.swap.outs"), 4U);
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 4U);
  // MADV_COLD on page 0 (the oldest): to the inactive head, so page 1 is evicted first.
  h.vmm.madvise(VmmMemory::Advice::kCold, page(0), page(1));
  h.mm.shrink(1, false);
  EXPECT_TRUE(h.vmm.lookup(page(0)).has_value());
  EXPECT_FALSE(h.vmm.lookup(page(1)).has_value());
}

TEST(HostMm, ASplitHugePageIsReclaimedAndAdvisedPieceByPiece) {
  // Two 2 MiB host pages, nothing young, host.thp_reclaim=split. A pass aiming at one page
  // finds the older huge page (HVAs kBase...) at the inactive tail: it is split (one
  // invalidate_range over its 2 MiB), its first piece is now the tail and goes (a second
  // invalidate_range, a swap write: never swapped).
  ReclaimParams params = quiet();
  params.thp_reclaim = ThpReclaim::kSplit;
  Host h(64 * MiB, params, os::Thp::k2M);
  h.touch(0);
  h.touch(512);
  const HostMm::Pass pass = h.mm.shrink(1, /*direct=*/false);
  EXPECT_EQ(pass.reclaimed, 1u);
  EXPECT_EQ(h.stat("host.reclaim.thp_splits"), 1u);
  EXPECT_EQ(h.mmu.invalidations, 2u);
  EXPECT_EQ(h.stat("host.swap.outs"), 1u);
  EXPECT_FALSE(h.vmm.lookup(page(0)).has_value());
  EXPECT_EQ(h.vmm.lookup(page(1))->size, PageSize::k4K);
  EXPECT_EQ(h.vmm.lookup(page(512))->size, PageSize::k2M);
  // MADV_DONTNEED of pieces 1 and 2 acts on those two 4 KiB pages, not on the range's
  // 2 MiB (nor on piece 0 below it, which is on swap).
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(1), page(3)), 2u);
  EXPECT_FALSE(h.vmm.lookup(page(1)).has_value());
  EXPECT_FALSE(h.vmm.lookup(page(2)).has_value());
  EXPECT_TRUE(h.vmm.lookup(page(3)).has_value());
  // The piece on swap refaults as a 4 KiB page with a swap-in; a dropped one zero-filled.
  Cycles c;
  bool fault = false;
  EXPECT_EQ(h.vmm.fault_in(page(0), AccessKind::kRead, c, fault).size, PageSize::k4K);
  EXPECT_EQ(h.stat("host.swap.ins"), 1u);
  h.touch(1);
  EXPECT_EQ(h.stat("host.swap.ins"), 1u);
  EXPECT_EQ(h.stat("host.refaults"), 2u);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, DontneedOfPartOfAHugePageSplitsItAndDropsOnlyThatPart) {
  Host h(64 * MiB, quiet(), os::Thp::k2M);
  h.touch(0);    // pages 0-511: one 2 MiB page
  h.touch(512);  // pages 512-1023: another
  // [100, 300) covers part of the first: zap_page_range_single's invalidation of the range
  // itself, then zap_pmd_range splits the PMD (__split_huge_pmd: an invalidation over its
  // 2 MiB) and zap_pte_range drops the 200 advised pages only.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(100), page(300)), 200u);
  EXPECT_EQ(h.mmu.invalidations, 2u);
  EXPECT_EQ(h.stat("vm0.dropped"), 200u);
  EXPECT_EQ(h.vmm.lookup(page(99))->size, PageSize::k4K);  // split, resident
  EXPECT_FALSE(h.vmm.lookup(page(100)).has_value());
  EXPECT_FALSE(h.vmm.lookup(page(299)).has_value());
  EXPECT_EQ(h.vmm.lookup(page(300))->size, PageSize::k4K);
  EXPECT_EQ(h.vmm.lookup(page(512))->size, PageSize::k2M);  // untouched
  // The pieces left take the huge page's place on the LRU: 1024 - 200 pages.
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 824U);
  // A dropped page refaults as 4 KiB (the range has a page table now), zero-filled.
  Cycles c;
  bool fault = false;
  EXPECT_EQ(h.vmm.fault_in(page(150), AccessKind::kRead, c, fault).size, PageSize::k4K);
  EXPECT_EQ(h.stat("host.refaults"), 1u);
  // The whole of the second 2 MiB: zap_huge_pmd, one invalidation (the range's) and no
  // split; the next touch maps a huge page again.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(512), page(1024)), 512u);
  EXPECT_EQ(h.mmu.invalidations, 3u);
  EXPECT_FALSE(h.vmm.lookup(page(600)).has_value());
  EXPECT_EQ(h.vmm.fault_in(page(600), AccessKind::kRead, c, fault).size, PageSize::k2M);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

// MADV_PAGEOUT of a whole anonymous huge page with no swap: shrink_folio_list cannot get it
// a swap slot (folio_alloc_swap), so it splits the folio to swap its pieces
// (split_folio_to_list: the PMD split, one invalidation over the 2 MiB), and the pieces,
// which get no slot either, stay mapped (activate_locked_split): nothing paged out, the
// memory as it was, the page now 512 small ones.
TEST(HostMm, PageoutOfAHugePageWithoutSwapSplitsItAndKeepsIt) {
  ReclaimParams p = quiet();
  p.swap = config::ByteSize{0};
  Host h(64 * MiB, p, os::Thp::k2M);
  h.touch(0, AccessKind::kWrite);
  const std::uint64_t free = h.mm.free_bytes();
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(512)), 0u);
  EXPECT_EQ(h.mmu.invalidations, 1u);
  EXPECT_EQ(h.vmm.lookup(page(0))->size, PageSize::k4K);
  EXPECT_EQ(h.vmm.lookup(page(511))->size, PageSize::k4K);
  // No page freed; one frame taken: the page table of the 512 PTEs (Linux deposited it at
  // the huge fault, pgtable_trans_huge_deposit; the model allocates it at the split).
  EXPECT_EQ(h.mm.free_bytes(), free - 4096);
  EXPECT_EQ(h.stat("host.swap.outs"), 0u);
  // Again: 4 KiB anonymous pages with no swap stay, and nothing is invalidated.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(512)), 0u);
  EXPECT_EQ(h.mmu.invalidations, 1u);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

// CONFIG_PT_RECLAIM (Linux 6.14 on): MADV_DONTNEED of a range covering a PMD's whole 2 MiB
// frees the page table it emptied (try_to_free_pte), so the next fault there maps a huge
// page again; without it (older kernels) the table stays and faults map 4 KiB pages.
TEST(HostMm, DontneedOfAWholeSplitRangeFreesItsPageTable) {
  for (const bool reclaim : {true, false}) {
    SCOPED_TRACE(reclaim);
    ReclaimParams p = quiet();
    p.pt_reclaim = reclaim;
    Host h(64 * MiB, p, os::Thp::k2M);
    h.touch(0, AccessKind::kWrite);
    // Part of it freed: split_folio, a page table of 512 PTEs.
    h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(10));
    ASSERT_EQ(h.vmm.lookup(page(100))->size, PageSize::k4K);
    // All of it: every PTE zapped; the emptied table goes with PT_RECLAIM.
    EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(512)), 512u);
    Cycles c;
    bool fault = false;
    EXPECT_EQ(h.vmm.fault_in(page(7), AccessKind::kWrite, c, fault).size,
              reclaim ? PageSize::k2M : PageSize::k4K);
    // A range short of the whole 2 MiB keeps the table (reclaim_pt_is_enabled: end - start
    // >= PMD_SIZE), even when every entry is none.
    h.touch(512, AccessKind::kWrite);
    h.vmm.madvise(VmmMemory::Advice::kDontneed, page(512), page(513));  // split
    h.vmm.madvise(VmmMemory::Advice::kDontneed, page(513), page(1024));
    EXPECT_EQ(h.vmm.fault_in(page(600), AccessKind::kWrite, c, fault).size, PageSize::k4K);
    EXPECT_EQ(h.mm.audit_accounting(), "");
  }
}

TEST(HostMm, ARangeAcrossTwoHugePagesSplitsBoth) {
  Host h(64 * MiB, quiet(), os::Thp::k2M);
  h.touch(0);
  h.touch(512);
  // [500, 520): the tail of one 2 MiB page and the head of the next, each split (two
  // invalidations) after the range's own invalidation.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(500), page(520)), 20u);
  EXPECT_EQ(h.mmu.invalidations, 3u);
  EXPECT_EQ(h.vmm.lookup(page(499))->size, PageSize::k4K);
  EXPECT_FALSE(h.vmm.lookup(page(500)).has_value());
  EXPECT_FALSE(h.vmm.lookup(page(519)).has_value());
  EXPECT_EQ(h.vmm.lookup(page(520))->size, PageSize::k4K);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, OtherAdviceOnPartOfAHugePageSplitsItToo) {
  // MADV_FREE (madvise_free_huge_pmd), MADV_COLD and MADV_PAGEOUT
  // (madvise_cold_or_pageout_pte_range) split a huge page the range covers in part
  // (split_folio: one invalidation over its 2 MiB) and act on the advised pages alone.
  {
    Host h(64 * MiB, quiet(), os::Thp::k2M);
    h.touch(0);
    // The range's invalidation (madvise_free_single_vma), then the split's; the 100 pages
    // stay mapped, lazily free.
    EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(100)), 100u);
    EXPECT_EQ(h.mmu.invalidations, 2u);
    EXPECT_EQ(h.vmm.lookup(page(0))->size, PageSize::k4K);
    // Each advised piece is lazily free: reclaim drops it without swap (not written
    // since); a piece outside the range is an ordinary page, written to swap.
    EXPECT_TRUE(h.mm.page_out(h.vmm.lookup(page(99))->page_base));
    EXPECT_EQ(h.stat("host.swap.outs"), 0u);
    EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 1u);
    EXPECT_TRUE(h.mm.page_out(h.vmm.lookup(page(100))->page_base));
    EXPECT_EQ(h.stat("host.swap.outs"), 1u);
    // A lazily free huge page split later (here by MADV_DONTNEED of its head): its pieces
    // keep the folio's state (__split_folio_to_order), so each is still dropped unwritten.
    h.touch(512);
    EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(512), page(1024)), 512u);
    EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(512), page(520)), 8u);
    EXPECT_TRUE(h.mm.page_out(h.vmm.lookup(page(600))->page_base));
    EXPECT_EQ(h.stat("host.swap.outs"), 1u);
    EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 2u);
    EXPECT_EQ(h.mm.audit_accounting(), "");
  }
  {
    Host h(64 * MiB, quiet(), os::Thp::k2M);
    h.touch(0);
    // No invalidation for the range itself; the split's, then one per piece paged out
    // (try_to_unmap), each written to swap (never swapped before).
    EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(100)), 100u);
    EXPECT_EQ(h.mmu.invalidations, 1u + 100u);
    EXPECT_EQ(h.stat("host.swap.outs"), 100u);
    EXPECT_EQ(h.vmm.lookup(page(100))->size, PageSize::k4K);
    EXPECT_EQ(h.mm.audit_accounting(), "");
  }
}

// host.zero_page under host.thp=2m (transparent_hugepage/use_zero_page = 1).
ReclaimParams zero_pages(bool thp_zero_page = true) {
  ReclaimParams p = quiet();
  p.zero_page = true;
  p.thp_zero_page = thp_zero_page;
  return p;
}

TEST(HostMm, AReadMapsTheHugeZeroPageAndTheFirstStoreAllocatesTheHugePage) {
  Host h(64 * MiB, zero_pages(), os::Thp::k2M);
  Cycles c;
  bool fault = false;
  // do_huge_pmd_anonymous_page for a read: the PMD maps the huge zero page, one fault for
  // the 2 MiB; a read of another page of it faults no more.
  ASSERT_TRUE(h.vmm.map_zero_page(page(3), c, fault));
  EXPECT_TRUE(fault);
  fault = false;
  ASSERT_TRUE(h.vmm.map_zero_page(page(500), c, fault));
  EXPECT_FALSE(fault);
  EXPECT_EQ(h.stat("vm0.zero_page_faults"), 1u);
  const auto zero = h.vmm.zero_mapping(page(500));
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->size, PageSize::k2M);
  EXPECT_EQ(zero->page_base, h.vmm.huge_zero_page());
  EXPECT_EQ(zero->pa_of(page(500)), h.vmm.huge_zero_page() + 500 * 4 * KiB);
  EXPECT_FALSE(h.vmm.lookup(page(3)).has_value());      // not a page of the process
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 0U);  // nor on the LRU
  // The next 2 MiB is a range of its own: its first read maps the huge zero page there too.
  ASSERT_TRUE(h.vmm.map_zero_page(page(512), c, fault));
  EXPECT_EQ(h.stat("vm0.zero_page_faults"), 2u);
  // do_huge_zero_wp_pmd: a store allocates the huge page, after one invalidation over the
  // 2 MiB; the other 2 MiB still maps the huge zero page.
  h.touch(7, AccessKind::kWrite);
  EXPECT_EQ(h.vmm.lookup(page(0))->size, PageSize::k2M);
  EXPECT_FALSE(h.vmm.zero_mapped(page(3)));
  EXPECT_TRUE(h.vmm.zero_mapped(page(600)));
  EXPECT_EQ(h.mmu.invalidations, 1u);
  EXPECT_EQ(h.stat("vm0.zero_page_cows"), 1u);
  EXPECT_EQ(h.stat("host.page_faults"), 1u);  // the huge page's; zero-page faults apart
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive), 512U);
  // MADV_DONTNEED of a whole 2 MiB that maps the huge zero page: zap_huge_pmd clears it,
  // and the next read maps it again.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(512), page(1024)), 512u);
  EXPECT_FALSE(h.vmm.zero_mapped(page(600)));
  ASSERT_TRUE(h.vmm.map_zero_page(page(600), c, fault));
  EXPECT_EQ(h.stat("vm0.zero_page_faults"), 3u);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, WithoutUseZeroPageAReadAllocatesTheHugePage) {
  Host h(64 * MiB, zero_pages(/*thp_zero_page=*/false), os::Thp::k2M);
  Cycles c;
  bool fault = false;
  EXPECT_FALSE(h.vmm.map_zero_page(page(3), c, fault));  // fault_in's to do
  EXPECT_EQ(h.vmm.fault_in(page(3), AccessKind::kRead, c, fault).size, PageSize::k2M);
  EXPECT_EQ(h.stat("vm0.zero_page_faults"), 0u);
}

TEST(HostMm, AStoreToTheHugeZeroPageWithoutA2MiBFrameSplitsIt) {
  Host h(16 * MiB, zero_pages(), os::Thp::k2M);
  Cycles c;
  bool fault = false;
  ASSERT_TRUE(h.vmm.map_zero_page(page(3), c, fault));  // the huge zero page's 2 MiB frame
  // Every other frame taken 4 KiB at a time and given back: memory is free but in 4 KiB
  // frames only, which never merge into a 2 MiB one.
  std::vector<Hpa> taken;
  try {
    for (;;) {
      taken.push_back(h.frames.allocate(PageSize::k4K));
    }
  } catch (const mem::OutOfMemory&) {
  }
  for (const Hpa f : taken) {
    h.frames.free(f, PageSize::k4K);
  }
  // do_huge_zero_wp_pmd finds no huge page: __split_huge_pmd (an invalidation over the
  // 2 MiB, every PTE the small zero page), then wp_page_copy of the stored page alone (an
  // invalidation of its 4 KiB).
  EXPECT_EQ(h.vmm.fault_in(page(3), AccessKind::kWrite, c, fault).size, PageSize::k4K);
  EXPECT_EQ(h.stat("host.thp_fallbacks"), 1u);
  EXPECT_EQ(h.mmu.invalidations, 2u);
  EXPECT_FALSE(h.vmm.zero_mapped(page(3)));
  for (const std::uint64_t i : {0u, 2u, 4u, 511u}) {
    ASSERT_TRUE(h.vmm.zero_mapped(page(i))) << i;
    EXPECT_EQ(h.vmm.zero_mapping(page(i))->size, PageSize::k4K) << i;
  }
  // The range has a page table now: a store elsewhere in it copies 4 KiB too.
  EXPECT_EQ(h.vmm.fault_in(page(4), AccessKind::kWrite, c, fault).size, PageSize::k4K);
  EXPECT_EQ(h.stat("vm0.zero_page_cows"), 2u);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, DontneedOfPartOfTheHugeZeroPageSplitsItIntoSmallZeroPages) {
  Host h(64 * MiB, zero_pages(), os::Thp::k2M);
  Cycles c;
  bool fault = false;
  ASSERT_TRUE(h.vmm.map_zero_page(page(0), c, fault));
  // __split_huge_pmd of the huge zero page (__split_huge_zero_page_pmd): after the range's
  // invalidation, one over the 2 MiB; every PTE then maps the small zero page, and
  // zap_pte_range clears the advised ones.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(10), page(20)), 10u);
  EXPECT_EQ(h.mmu.invalidations, 2u);
  EXPECT_FALSE(h.vmm.zero_mapped(page(10)));
  EXPECT_FALSE(h.vmm.zero_mapped(page(19)));
  ASSERT_TRUE(h.vmm.zero_mapped(page(9)));
  EXPECT_EQ(h.vmm.zero_mapping(page(9))->size, PageSize::k4K);
  EXPECT_EQ(h.vmm.zero_mapping(page(20))->size, PageSize::k4K);
  // A read of an advised page maps the small zero page (a page table is there now).
  ASSERT_TRUE(h.vmm.map_zero_page(page(10), c, fault));
  EXPECT_EQ(h.vmm.zero_mapping(page(10))->size, PageSize::k4K);
  // MADV_FREE leaves the huge zero page alone (is_huge_zero_pmd): only the range's
  // invalidation.
  ASSERT_TRUE(h.vmm.map_zero_page(page(600), c, fault));
  h.vmm.madvise(VmmMemory::Advice::kFree, page(600), page(610));
  EXPECT_EQ(h.mmu.invalidations, 3u);
  EXPECT_EQ(h.vmm.zero_mapping(page(600))->size, PageSize::k2M);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

// The split of an anonymous huge page into small folios (split_folio) maps every piece that
// is zero-filled to the shared zero page and frees its frame (remap_page with
// RMP_USE_SHARED_ZEROPAGE -> try_to_map_unused_to_zeropage, Linux 6.12 on): a piece no store
// reached and whose words are zero. The machine's stores set the frames' bits
// (PhysicalMemory::note_store); here the test stores, as a guest would.
TEST(HostMm, ASplitMapsTheZeroFilledPiecesToTheZeroPage) {
  Host h(64 * MiB, zero_pages(), os::Thp::k2M);
  h.memory.track_stores();
  const Hpa huge = h.touch(0, AccessKind::kWrite);  // pages 0-511: one 2 MiB page
  for (std::uint64_t i : {0, 1, 2}) {
    h.memory.note_store(huge + i * 4 * KiB);
  }
  h.memory.write_u64(huge + 300 * 4 * KiB + 8, 0x1234);  // a page-table word, say
  const std::uint64_t free = h.mm.free_bytes();
  // MADV_FREE of page 0 splits the folio: the pieces 0-2 and 300 hold data and stay; the
  // other 508 map the zero page, their frames free; the split's page table takes one frame.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(1)), 1u);
  EXPECT_EQ(h.stat("vm0.split_zero_pages"), 508u);
  for (std::uint64_t i : {0, 1, 2, 300}) {
    ASSERT_TRUE(h.vmm.lookup(page(i)).has_value()) << i;
    EXPECT_EQ(h.vmm.lookup(page(i))->page_base, huge + i * 4 * KiB);
  }
  EXPECT_FALSE(h.vmm.lookup(page(3)).has_value());
  EXPECT_TRUE(h.vmm.zero_mapped(page(3)));
  EXPECT_TRUE(h.vmm.zero_mapped(page(511)));
  EXPECT_EQ(h.mm.free_bytes(), free + 508 * 4 * KiB - 4 * KiB - 4 * KiB);  // and the zero page
  EXPECT_EQ(h.mm.lru().pages(LruList::kInactive) + h.mm.lru().pages(LruList::kActive), 4u);
  // A store to a zero piece copies it (wp_page_copy): a fresh page, no store in it yet.
  const Hpa copy = h.touch(3, AccessKind::kWrite);
  EXPECT_EQ(h.stat("vm0.zero_page_cows"), 1u);
  EXPECT_TRUE(h.memory.zero_filled(copy));
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

// MADV_DONTNEED of part of a huge page splits its PMD only (__split_huge_pmd): the folio
// stays whole, mapped by PTEs, and nothing maps the zero page. A later MADV_FREE (or COLD,
// PAGEOUT) that meets one of its pieces splits the folio (madvise_free_pte_range:
// madvise_folio_pte_batch covers fewer than its 512 pages), and then the zero-filled pieces
// go; a page faulted in since in the range is a folio of its own and is left alone.
TEST(HostMm, AFolioMappedByPtesAfterDontneedSplitsAtTheNextFree) {
  Host h(64 * MiB, zero_pages(), os::Thp::k2M);
  h.memory.track_stores();
  const Hpa huge = h.touch(0, AccessKind::kWrite);
  for (std::uint64_t i : {0, 1, 2, 3}) {
    h.memory.note_store(huge + i * 4 * KiB);
  }
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(1)), 1u);
  EXPECT_EQ(h.stat("vm0.split_zero_pages"), 0u);
  EXPECT_EQ(h.vmm.lookup(page(400))->size, PageSize::k4K);  // PTE-mapped, still there
  // Page 0 comes back as a page of its own (zero-filled, no store yet); 100 is read.
  const Hpa again = h.touch(0, AccessKind::kWrite);
  EXPECT_EQ(h.vmm.lookup(page(0))->page_base, again);
  // MADV_FREE of page 2: the folio splits; its pieces 4-511 (508) are zero-filled. Page 0 is
  // not the folio's, zero-filled or not.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(2), page(3)), 1u);
  EXPECT_EQ(h.stat("vm0.split_zero_pages"), 508u);
  EXPECT_TRUE(h.vmm.lookup(page(0)).has_value());
  EXPECT_TRUE(h.vmm.lookup(page(3)).has_value());
  EXPECT_TRUE(h.vmm.zero_mapped(page(4)));
  // Once split, the folio is gone: a second MADV_FREE splits nothing more.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(1)), 1u);
  EXPECT_EQ(h.stat("vm0.split_zero_pages"), 508u);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

// Without store tracking (the machine does not track them: no host zero page, or no huge
// host pages) a split maps no zero page: the model cannot tell data from zeros.
TEST(HostMm, WithoutStoreTrackingASplitKeepsEveryPiece) {
  Host h(64 * MiB, zero_pages(), os::Thp::k2M);
  h.touch(0, AccessKind::kWrite);
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kFree, page(0), page(1)), 1u);
  EXPECT_EQ(h.stat("vm0.split_zero_pages"), 0u);
  EXPECT_TRUE(h.vmm.lookup(page(511)).has_value());
}

// Shared memory (a memfd, VmmMemory::add_shmem): pages in the page cache.
TEST(HostMm, SharedMemoryKeepsUnmappedPagesInThePageCache) {
  Host h(64 * MiB, quiet(), os::Thp::k2M);
  h.vmm.add_shmem(page(0), page(16));
  std::vector<Hpa> hpa;
  for (std::uint64_t i = 0; i < 8; ++i) {
    hpa.push_back(h.touch(i, AccessKind::kWrite));
  }
  // shmem_enabled=never: 4 KiB pages whatever host.thp says.
  EXPECT_EQ(h.vmm.lookup(page(0))->size, PageSize::k4K);
  h.memory.write_u64(hpa[1], 0x1234);
  const std::uint64_t free = h.mm.free_bytes();
  const std::uint64_t invalidations = h.mmu.invalidations;
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(4)), 4U);
  EXPECT_EQ(h.mmu.invalidations - invalidations, 1U);  // zap_page_range_single: one call
  EXPECT_FALSE(h.vmm.lookup(page(1)).has_value());
  EXPECT_TRUE(h.vmm.page_cached(page(1)));
  EXPECT_EQ(h.mm.free_bytes(), free);  // nothing freed: the page cache holds them
  EXPECT_EQ(h.stat("vm0.dropped"), 0U);
  // The next touch maps the same page, contents and all: a minor fault, not a refault.
  EXPECT_EQ(h.touch(1), hpa[1]);
  EXPECT_EQ(h.memory.read_u64(hpa[1]), 0x1234U);
  EXPECT_FALSE(h.vmm.page_cached(page(1)));
  EXPECT_EQ(h.stat("host.refaults"), 0U);
  EXPECT_EQ(h.stat("host.page_faults"), 9U);  // 8 first touches and this one
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, AReadFaultOfSharedMemoryMapsTheCachedPagesAroundIt) {
  // Shared memory [page 4, page 40): 36 pages written, then all unmapped (DONTNEED): the
  // page cache holds them.
  Host h(64 * MiB, quiet());
  h.vmm.add_shmem(page(4), page(40));
  for (std::uint64_t i = 4; i < 40; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  h.vmm.madvise(VmmMemory::Advice::kDontneed, page(4), page(40));
  const std::uint64_t faults = h.stat("host.page_faults");
  // A read of page 5: do_fault_around's block is the aligned 64 KiB (16 pages) holding it,
  // pages 0-15, clamped to the mapping's start: 4-15. filemap_map_pages maps the 11
  // cached pages other than 5 without a fault of their own; page 5 is the fault.
  h.touch(5);
  EXPECT_EQ(h.stat("host.page_faults") - faults, 1u);
  EXPECT_EQ(h.stat("vm0.faulted_around"), 11u);
  EXPECT_TRUE(h.vmm.lookup(page(4)).has_value());
  EXPECT_TRUE(h.vmm.lookup(page(15)).has_value());
  EXPECT_FALSE(h.vmm.lookup(page(16)).has_value());
  EXPECT_TRUE(h.vmm.page_cached(page(16)));
  // A read of a page fault-around mapped takes no fault.
  h.touch(15);
  EXPECT_EQ(h.stat("host.page_faults") - faults, 1u);
  // A store (do_shared_fault) maps its page alone.
  h.touch(20, AccessKind::kWrite);
  EXPECT_EQ(h.stat("host.page_faults") - faults, 2u);
  EXPECT_FALSE(h.vmm.lookup(page(21)).has_value());
  // The last block, 32-47, clamped to the mapping's end: 32-39, 7 others.
  h.touch(39);
  EXPECT_EQ(h.stat("vm0.faulted_around"), 11u + 7u);
  EXPECT_TRUE(h.vmm.lookup(page(32)).has_value());
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, FaultAroundOfOnePageIsNone) {
  ReclaimParams p = quiet();
  p.fault_around_bytes = config::ByteSize{4 * KiB};
  Host h(64 * MiB, p);
  h.vmm.add_shmem(page(0), page(16));
  for (std::uint64_t i = 0; i < 16; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(16));
  h.touch(3);
  EXPECT_EQ(h.stat("vm0.faulted_around"), 0u);
  EXPECT_FALSE(h.vmm.lookup(page(2)).has_value());
}

TEST(HostMm, RemovePunchesAHoleInSharedMemoryOnly) {
  Host h(64 * MiB, quiet());
  h.vmm.add_shmem(page(0), page(8));
  for (std::uint64_t i = 0; i < 9; ++i) {
    h.touch(i, AccessKind::kWrite);  // page 8 is anonymous
  }
  h.memory.write_u64(h.vmm.lookup(page(2))->page_base, 0x1234);
  h.vmm.madvise(VmmMemory::Advice::kDontneed, page(3), page(4));  // in the page cache now
  const std::uint64_t free = h.mm.free_bytes();
  const std::uint64_t invalidations = h.mmu.invalidations;
  // shmem_fallocate(PUNCH_HOLE): one unmap_mapping_range, then every page of the hole
  // freed, the three mapped ones and the one only the page cache held.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kRemove, page(0), page(4)), 4U);
  EXPECT_EQ(h.mmu.invalidations - invalidations, 1U);
  EXPECT_EQ(h.mm.free_bytes() - free, 4 * 4 * KiB);
  EXPECT_FALSE(h.vmm.page_cached(page(3)));
  EXPECT_EQ(h.stat("vm0.dropped"), 4U);
  EXPECT_EQ(h.memory.read_u64(h.touch(2)), 0U);  // zero-filled
  // madvise_free_single_vma refuses shared memory, madvise_remove anonymous memory: EINVAL,
  // nothing done.
  const std::uint64_t before = h.mmu.invalidations;
  EXPECT_THROW(h.vmm.madvise(VmmMemory::Advice::kFree, page(4), page(5)), MadviseError);
  EXPECT_THROW(h.vmm.madvise(VmmMemory::Advice::kRemove, page(7), page(9)), MadviseError);
  EXPECT_EQ(h.mmu.invalidations, before);
  EXPECT_TRUE(h.vmm.lookup(page(7)).has_value());
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, SharedPageoutUnmapsPageByPageAndWithoutSwapKeepsThemCached) {
  ReclaimParams p = quiet();
  p.swap = config::ByteSize{0};
  Host h(64 * MiB, p);
  h.vmm.add_shmem(page(0), page(8));
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  const std::uint64_t invalidations = h.mmu.invalidations;
  const std::uint64_t free = h.mm.free_bytes();
  // reclaim_pages -> shrink_folio_list, each folio: try_to_unmap (one notifier call each),
  // then shmem_writeout finds no swap: the page stays in the page cache, unmapped.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(4)), 4U);
  EXPECT_EQ(h.mmu.invalidations - invalidations, 4U);
  EXPECT_EQ(h.mm.free_bytes(), free);
  for (std::uint64_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(h.vmm.page_cached(page(i))) << i;
  }
  EXPECT_EQ(h.stat("host.swap.outs"), 0U);
  // Again: nothing is mapped there now, so MADV_PAGEOUT (a page-table walk) finds nothing.
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(4)), 0U);
  EXPECT_EQ(h.mmu.invalidations - invalidations, 4U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, SharedPagesGoToSwapAndComeBackWithoutASwapCopy) {
  Host h(64 * MiB, quiet());
  h.vmm.add_shmem(page(0), page(8));
  for (std::uint64_t i = 0; i < 4; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(1));  // page 0: unmapped, cached
  const std::uint64_t invalidations = h.mmu.invalidations;
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(0), page(4)), 3U);  // mapped ones
  EXPECT_EQ(h.mmu.invalidations - invalidations, 3U);
  EXPECT_EQ(h.stat("host.swap.outs"), 3U);
  // Reclaim finds page 0 unmapped in the page cache: written without a notifier call.
  EXPECT_EQ(h.mm.shrink(1, false).reclaimed, 1U);
  EXPECT_EQ(h.stat("host.swap.outs"), 4U);
  EXPECT_EQ(h.mmu.invalidations - invalidations, 3U);
  // shmem_swapin_folio frees the swap entry and dirties the page: evicting it again writes
  // it again (an anonymous page would be dropped clean, its swap copy still valid).
  h.touch(1);
  EXPECT_EQ(h.stat("host.swap.ins"), 1U);
  EXPECT_EQ(h.vmm.madvise(VmmMemory::Advice::kPageout, page(1), page(2)), 1U);
  EXPECT_EQ(h.stat("host.swap.outs"), 5U);
  EXPECT_EQ(h.stat("host.reclaim.dropped_clean"), 0U);
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, ReclaimInTheFaultMayTakeTheCachedPageItWasToMap) {
  Host h(8 * MiB, quiet());
  h.vmm.add_shmem(page(0), page(8));
  for (std::uint64_t i = 0; i < 8; ++i) {
    h.touch(i, AccessKind::kWrite);
  }
  h.vmm.madvise(VmmMemory::Advice::kDontneed, page(0), page(1));
  // The rest of the host's memory taken (by memory off the LRU) until the fault's reserve,
  // 16 table frames for a page the page cache holds, would go below min (4 KiB).
  while (h.mm.free_bytes() >= 16 * 4 * KiB + 4 * KiB) {
    h.frames.allocate(PageSize::k4K);
  }
  ASSERT_TRUE(h.vmm.page_cached(page(0)));
  // Page 0, the oldest, is the inactive tail: the touch's direct reclaim writes it to swap
  // (unmapped: no invalidation) before the fault maps anything, so the fault is a refault
  // that reads it back, not a minor fault onto the freed frame.
  h.touch(0);
  EXPECT_EQ(h.stat("host.refaults"), 1U);
  EXPECT_EQ(h.stat("host.swap.ins"), 1U);
  EXPECT_FALSE(h.vmm.page_cached(page(0)));
  EXPECT_TRUE(h.vmm.lookup(page(0)).has_value());
  EXPECT_EQ(h.mm.audit_accounting(), "");
}

TEST(HostMm, NoSwapMeansOutOfMemoryNamingTheKeys) {
  ReclaimParams p = quiet();
  p.swap = config::ByteSize{0};
  Host h(8 * MiB, p);
  try {
    for (std::uint64_t i = 0; i < 2000; ++i) {
      h.touch(i);
    }
    FAIL() << "expected OutOfMemory";
  } catch (const mem::OutOfMemory& e) {
    EXPECT_NE(std::string(e.what()).find("raise host.memory or host.swap"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pagesim::hostmm
