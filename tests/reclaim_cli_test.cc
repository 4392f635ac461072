// Host memory pressure end to end through `pagesim replay` in nested mode: reclaim,
// refaults, swap, madvise and the balloon (models/hostmm/host_mm.h, vmm_memory.h). Every
// count is derived in a comment from the documented behaviour.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "base/hex.h"
#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;  // 512 GiB aligned: a fresh PML4 slot
// A one-slot 64 MiB guest: its data frames descend from 64 MiB (models/mem/frame_allocator.h).
const std::string kVm =
    "--set mode=nested --set vm.memory=64MiB --set vm.layout=0:64MiB --set guest.levels=4 ";
// Every walk reads every guest table through the EPT (their leaves' A flags set each time).
const std::string kCachesOff = "--set walker.pwc.enabled=false --set walker.ept_pwc.enabled=false ";

// Each of `pages` pages read once, in order, `rounds` times.
std::string cycle(int pages, int rounds) { return sweep_trace(kBase, pages, 1, rounds); }

// A 4 MiB host with 1 MiB of watermarks, all three equal: every reclaim is direct.
const std::string kSmallHost =
    "--set host.memory=4MiB --set host.watermarks.min=1MiB --set host.watermarks.low=1MiB "
    "--set host.watermarks.high=1MiB ";

// 64 pages written, the upper half of the GPAs they land on (the guest's data descends
// from the top of its 64 MiB: [64 MiB - 256 KiB, 64 MiB)) dropped by MADV_DONTNEED, then
// every page read again.
std::string dontneed_half() {
  std::ostringstream t;
  for (int p = 0; p < 64; ++p) {
    t << "W " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  t << "!madvise dontneed " << hex(64 * 1024 * 1024 - 128 * 1024) << " 128KiB\n";
  for (int p = 0; p < 64; ++p) {
    t << "R " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  return t.str();
}

TEST(Reclaim, AmpleHostMemoryReclaimsNothingAndChangesNoCount) {
  TempDir dir;
  const std::string trace = cycle(2048, 3);
  // The default host (256 GiB) and one of 64 MiB (the guest's 8 MiB of data, its tables
  // and the EPT's, far above the default watermarks: min 1 MiB, high ~1.3 MiB).
  auto big = replay(dir, trace, kVm);
  auto small = replay(dir, trace, kVm + "--set host.memory=64MiB");
  for (auto* s : {&big, &small}) {
    EXPECT_EQ((*s)["host.reclaim.scanned"], 0);
    EXPECT_EQ((*s)["host.refaults"], 0);
    EXPECT_EQ((*s)["mmu_notifier.invalidate_range"], 0);
    EXPECT_EQ((*s)["tlb.shootdowns"], 0);
  }
  // The step-2 counts do not depend on where the host's frames are.
  for (const char* key : {"guest.page_faults", "ept.violations", "host.page_faults", "walker.walks",
                          "walker.refs", "vmexits.total", "sim.accesses"}) {
    EXPECT_EQ(big[key], small[key]) << key;
  }
  EXPECT_EQ(small["guest.page_faults"], 2048);
}

TEST(Reclaim, ACyclicTraceLargerThanTheHostRefaultsEveryPageEveryRound) {
  TempDir dir;
  // 512 pages (2 MiB) read 3 times over on a 4 MiB host: 3 MiB managed above 1 MiB (768
  // frames), less the VMM's and the EPT's tables and 1 MiB of watermarks (256 frames), and
  // reserve()'s 17 frames of headroom: room for fewer than the 512 data pages and the
  // guest's 4 table pages (PML4, PDPT, PD, one PT). Every page the walks read is young
  // when first scanned (the walk set its EPT A flag); a pass rotates it to the inactive
  // head (second chance) and clears A, and evicts it when it comes round again without a
  // walk having read it in between. Data pages enter the list in the order they are read
  // and rotate in that order, so they leave oldest first: the cycle being longer than what
  // fits, every read of rounds 2 and 3 finds its page evicted, 2 * 512 data refaults. The
  // table pages go too when a pass sweeps the whole list before the next walk (then they
  // refault on the next walk): their evictions and refaults come on top, and each of
  // their evictions is a write (they hold the guest's entries).
  //   refaults = 1024 + table refaults; swap-ins = refaults (every page evicted was written
  //   first: a data page on its first eviction, never swapped before); swap-outs = 512 (each
  //   data page once; later evictions of an unwritten swapped-in page drop it) + table
  //   evictions >= 512 + table refaults.
  auto s = replay(dir, cycle(512, 3), kVm + kCachesOff + kSmallHost + "--check");
  EXPECT_EQ(s["guest.page_faults"], 512);
  const double table_refaults = s["host.refaults"] - 2 * 512;
  EXPECT_GE(table_refaults, 0);
  EXPECT_EQ(s["vm0.refaults"], s["host.refaults"]);
  EXPECT_EQ(s["host.swap.ins"], s["host.refaults"]);
  // First touches: the 512 data pages and the 4 guest table pages.
  EXPECT_EQ(s["host.page_faults"] - s["host.refaults"], 512 + 4);
  EXPECT_GE(s["host.swap.outs"] - 512, table_refaults);
  EXPECT_EQ(s["host.reclaim.dropped_clean"] + s["host.swap.outs"], s["host.reclaim.reclaimed"]);
  // Every eviction zapped the page's one EPT leaf and shot down the VM's one vCPU.
  EXPECT_EQ(s["ept.zaps"], s["host.reclaim.reclaimed"]);
  EXPECT_EQ(s["mmu_notifier.invalidate_range"], s["host.reclaim.reclaimed"]);
  EXPECT_EQ(s["tlb.shootdowns"], s["host.reclaim.reclaimed"]);
  EXPECT_GT(s["host.reclaim.direct"], 0);  // min = low: the vCPU reclaims itself
  EXPECT_GT(s["sim.host_audits"], 0);      // --check audited after the invalidations
}

TEST(Reclaim, DontneedOnHalfTheTouchedRangeRefaultsExactlyThosePages) {
  TempDir dir;
  // 64 pages written; the guest maps them to the top 64 frames of its RAM, GPAs
  // [64 MiB - 256 KiB, 64 MiB) (its data descends from the top). DONTNEED of the upper half
  // of those GPAs, [64 MiB - 128 KiB, 64 MiB), drops 32 host pages; re-touching every page
  // refaults exactly those 32 (zero-filled: no swap-in).
  auto s = replay(dir, dontneed_half(), kVm + "--check");
  EXPECT_EQ(s["vm0.dropped"], 32);
  EXPECT_EQ(s["host.refaults"], 32);
  EXPECT_EQ(s["host.swap.ins"], 0);
  EXPECT_EQ(s["guest.page_faults"], 64);  // the guest saw nothing
  // One invalidation over the whole range (zap_page_range_single calls
  // mmu_notifier_invalidate_range_start once for the madvise range), zapping 32 leaves.
  EXPECT_EQ(s["mmu_notifier.invalidate_range"], 1);
  EXPECT_EQ(s["ept.zaps"], 32);
}

TEST(Reclaim, DontneedOfPartOfAHugeHostPageSplitsItAndDropsOnlyThatPart) {
  TempDir dir;
  for (const std::string mode : {"nested", "shadow"}) {
    // host.thp=2m: the 64 pages written land on GPAs [64 MiB - 256 KiB, 64 MiB), all in
    // the last 2 MiB of guest RAM: one huge host page. DONTNEED of the upper 128 KiB covers
    // part of it: zap_page_range_single's invalidation of the range, then zap_pmd_range
    // splits the PMD (__split_huge_pmd: an invalidation over the 2 MiB) and zap_pte_range
    // drops the 32 advised pages alone. The re-touch refaults exactly those 32 (4 KiB
    // pages now: the range has a page table), zero-filled; the 32 below stay resident.
    const std::string vm = "--set mode=" + mode +
                           " --set vm.memory=64MiB --set vm.layout=0:64MiB --set guest.levels=4 "
                           "--set host.thp=2m --check";
    auto s = replay(dir, dontneed_half(), vm);
    EXPECT_EQ(s["mmu_notifier.invalidate_range"], 2) << mode;
    EXPECT_EQ(s["vm0.dropped"], 32) << mode;
    EXPECT_EQ(s["host.refaults"], 32) << mode;
    EXPECT_EQ(s["host.swap.ins"], 0) << mode;
    EXPECT_EQ(s["guest.page_faults"], 64) << mode;
  }
}

TEST(Reclaim, PageoutWritesTheRangeToSwapAndItComesBack) {
  TempDir dir;
  std::ostringstream t;
  for (int p = 0; p < 16; ++p) {
    t << "W " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  // The same 16 pages by HVA: the VMM's RAM block starts at 0x7f0000000000 and the slot
  // maps GPA 0 there, so GPA [64 MiB - 64 KiB, 64 MiB) is HVA kBase + the same offsets.
  t << "!madvise pageout " << hex(kBase + 64 * 1024 * 1024 - 64 * 1024) << " 64KiB\n";
  for (int p = 0; p < 16; ++p) {
    t << "R " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  auto s = replay(dir, t.str(), kVm + "--check");
  EXPECT_EQ(s["host.swap.outs"], 16);
  EXPECT_EQ(s["host.swap.ins"], 16);
  EXPECT_EQ(s["host.refaults"], 16);
}

TEST(Reclaim, HugeHostPagesGoWholeOrSplitAsConfigured) {
  TempDir dir;
  // 2 MiB pages in guest and host; 48 reads, one per 256 KiB of 12 MiB (6 huge pages,
  // 8 reads each), 3 rounds, on a 12 MiB host (10 MiB above 1 MiB of tables and 1 MiB of
  // watermarks: fewer than the 6 huge pages with their tables), under --check.
  std::ostringstream t;
  for (int round = 0; round < 3; ++round) {
    for (int p = 0; p < 6 * 512; p += 64) {
      t << "R " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
    }
  }
  const std::string options =
      "--set vm.memory=64MiB --set vm.layout=0:64MiB --set host.thp=2m --set guest.thp=2m "
      "--set host.memory=12MiB --set host.watermarks.min=1MiB --set host.watermarks.low=1MiB "
      "--set host.watermarks.high=1MiB --check ";
  for (const char* mode : {"nested", "shadow"}) {
    SCOPED_TRACE(mode);
    const std::string m = std::string("--set mode=") + mode + " ";
    // whole (THP_SWAP): each eviction is one invalidate_range of a 2 MiB page, and each
    // refault reads the whole page back: 512 swap-ins.
    auto whole = replay(dir, t.str(), m + options + "--set host.thp_reclaim=whole");
    EXPECT_GT(whole["host.refaults"], 0);
    EXPECT_EQ(whole["host.reclaim.thp_splits"], 0);
    EXPECT_EQ(whole["host.swap.ins"], 512 * whole["host.refaults"]);
    EXPECT_EQ(512 * whole["mmu_notifier.invalidate_range"], whole["host.reclaim.reclaimed"]);
    // split: a huge page is split before it goes (one invalidate_range for its 2 MiB leaf),
    // then its pieces go one by one (one invalidate_range each); a refault brings back one
    // 4 KiB piece, one swap-in.
    auto split = replay(dir, t.str(), m + options + "--set host.thp_reclaim=split");
    EXPECT_GT(split["host.reclaim.thp_splits"], 0);
    EXPECT_GT(split["host.refaults"], 0);
    EXPECT_EQ(split["host.swap.ins"], split["host.refaults"]);
    EXPECT_EQ(split["mmu_notifier.invalidate_range"],
              split["host.reclaim.thp_splits"] + split["host.reclaim.reclaimed"]);
    // An access refaults at most once, so split mode swaps in at most one 4 KiB piece per
    // access: 144 (48 reads x 3 rounds); whole mode swaps in 512 per refault, and it
    // refaults at least once.
    EXPECT_LE(split["host.swap.ins"], 3 * 48);
    EXPECT_LT(split["host.swap.ins"], whole["host.swap.ins"]);
    if (std::string(mode) == "nested") {
      EXPECT_EQ(whole["ept.installs.4k"], 0);
      EXPECT_GT(split["ept.installs.4k"], 0);  // the refaulted pieces: 4 KiB EPT leaves
    }
  }
}

TEST(Reclaim, ASplitHugeHostPageMapsThePiecesNoStoreReachedToTheZeroPage) {
  TempDir dir;
  // Shadow mode, 2 MiB pages in guest and host, the host's zero page on: the guest's first
  // 2 MiB page lands on GPAs [62 MiB, 64 MiB) (data descends from the top), one huge host
  // page. Three stores, to its first three 4 KiB pieces: the first walks, the other two hit
  // the 2 MiB TLB entry (the core marks their frames, PhysicalMemory::note_store).
  // MADV_PAGEOUT of the first piece splits the folio (madvise_cold_or_pageout_pte_range:
  // split_folio), and the split maps every zero-filled piece to the zero page
  // (try_to_map_unused_to_zeropage): 512 - 3 = 509.
  std::ostringstream t;
  for (int p = 0; p < 3; ++p) {
    t << "W " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  t << "!madvise pageout " << hex(62 * 1024 * 1024) << " 4KiB\n";
  const std::string options =
      "--set mode=shadow --set vm.memory=64MiB --set vm.layout=0:64MiB --set guest.levels=4 "
      "--set host.thp=2m --set guest.thp=2m --set host.zero_page=true --check";
  auto s = replay(dir, t.str(), options);
  EXPECT_EQ(s["tlb.l1d.hits_2m"], 2);  // the second and third stores
  EXPECT_EQ(s["vm0.split_zero_pages"], 509);
  // Without the zero page nothing is remapped (and no store is tracked).
  auto off = replay(dir, t.str(), options + " --set host.zero_page=false");
  EXPECT_EQ(off["vm0.split_zero_pages"], 0);
}

TEST(Reclaim, TheLifeOfAPageShowsAgingEvictionAndRefault) {
  TempDir dir;
  write_text(dir.file("t.trace"), cycle(512, 2));
  // As the cyclic test: page 5 is mapped, scanned young (second chance), scanned again and
  // evicted (written to swap: never swapped before), and refaults in round 2 (swapped in).
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --trace-page " +
                               hex(kBase + 5 * 4096) + " " + kVm + kSmallHost));
  ASSERT_EQ(r.status, 0) << r.output;
  std::size_t at = 0;
  for (const char* step :
       {"EPT violation on GPA", "test_young says young", "clear_young", "test_young says not young",
        "host evicts the page", "written to swap", "host refault", "swapped in", "TLB fill"}) {
    const std::size_t next = r.output.find(step, at);
    ASSERT_NE(next, std::string::npos) << step << " after offset " << at << "\n" << r.output;
    at = next;
  }
}

TEST(Reclaim, ShadowModeReclaimsThroughTheShadowMmu) {
  TempDir dir;
  const std::string shadow =
      "--set mode=shadow --set vm.memory=64MiB --set vm.layout=0:64MiB --set guest.levels=4 ";
  // DONTNEED of half the touched GPAs, as in nested mode: 32 host pages dropped, their
  // shadow leaves zapped through KVM's rmap, 32 refaults on the re-touch.
  auto s = replay(dir, dontneed_half(), shadow + "--check");
  EXPECT_EQ(s["vm0.dropped"], 32);
  EXPECT_EQ(s["host.refaults"], 32);
  EXPECT_EQ(s["shadow.rmap_zaps"], 32);
  EXPECT_EQ(s["guest.page_faults"], 64);
  // The cyclic trace on the small host: --check (translations and the host audit) clean,
  // every data read of rounds 2 and 3 a refault, each refault a swap-in.
  auto c = replay(dir, cycle(512, 3), shadow + kSmallHost + "--check");
  EXPECT_GE(c["host.refaults"], 2 * 512);
  EXPECT_EQ(c["host.swap.ins"], c["host.refaults"]);
  EXPECT_GT(c["sim.host_audits"], 0);
}

TEST(Reclaim, AMemfdKeepsWhatTheVmmUnmapsInThePageCache) {
  TempDir dir;
  for (const std::string mode : {"nested", "shadow"}) {
    const std::string vm = "--set mode=" + mode + " --set vm.memory=64MiB --set guest.levels=4 ";
    // The same run on anonymous memory and on a memfd (vm.backing, or the slot's :memfd).
    auto anon = replay(dir, dontneed_half(), vm + "--set vm.layout=0:64MiB --check");
    auto memfd =
        replay(dir, dontneed_half(), vm + "--set vm.layout=0:64MiB --set vm.backing=memfd --check");
    auto slot = replay(dir, dontneed_half(), vm + "--set vm.layout=0:64MiB:memfd --check");
    // MADV_DONTNEED of the 32 upper pages: one invalidation that zaps their 32 leaves, as
    // on anonymous memory, but the page cache keeps the pages: nothing dropped, and the
    // re-touch (reads) maps them again with minor host faults, not refaults. A read fault
    // maps the cached pages of its aligned 64 KiB block too (fault-around,
    // host.fault_around_bytes): the 32 pages, [64 MiB - 128 KiB, 64 MiB), are two such
    // blocks, so two host faults. Anonymous memory refaults the 32 pages zero-filled, one
    // host fault each: 30 more.
    for (auto* s : {&memfd, &slot}) {
      EXPECT_EQ((*s)["mmu_notifier.invalidate_range"], 1) << mode;
      EXPECT_EQ((*s)["vm0.dropped"], 0) << mode;
      EXPECT_EQ((*s)["host.refaults"], 0) << mode;
      EXPECT_EQ((*s)["guest.page_faults"], 64) << mode;
      EXPECT_EQ((*s)["vm0.faulted_around"], 30) << mode;
      EXPECT_EQ((*s)["host.page_faults"], anon["host.page_faults"] - 30) << mode;
    }
    EXPECT_EQ(anon["vm0.dropped"], 32) << mode;
    EXPECT_EQ(anon["host.refaults"], 32) << mode;
    // shmem maps 4 KiB pages whatever host.thp says (shmem_enabled=never).
    auto huge = replay(dir, dontneed_half(), vm + "--set vm.layout=0:64MiB --set host.thp=2m");
    auto huge_memfd =
        replay(dir, dontneed_half(), vm + "--set vm.layout=0:64MiB:memfd --set host.thp=2m");
    EXPECT_GT(huge["host.mapped_pages_2m"], 0) << mode;
    EXPECT_EQ(huge_memfd["host.mapped_pages_2m"], 0) << mode;
    EXPECT_EQ(huge_memfd["host.page_faults"], memfd["host.page_faults"]) << mode;
  }
}

TEST(Reclaim, MemfdPageoutWithoutSwapUnmapsPageByPage) {
  TempDir dir;
  std::ostringstream t;
  for (int p = 0; p < 16; ++p) {
    t << "W " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  t << "!madvise pageout " << hex(64 * 1024 * 1024 - 64 * 1024) << " 64KiB\n";
  for (int p = 0; p < 16; ++p) {
    t << "R " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
  }
  const std::string no_swap = kVm + "--set host.swap=0 --check ";
  // Anonymous memory: shrink_folio_list cannot add a page to swap and leaves it mapped.
  auto anon = replay(dir, t.str(), no_swap);
  EXPECT_EQ(anon["mmu_notifier.invalidate_range"], 0);
  // A memfd: try_to_unmap of each of the 16 pages (an invalidation each), then
  // shmem_writeout finds no swap and the page stays in the page cache: no refault on the
  // re-touch, nothing written. The re-touch reads: the first read fault maps the other 15
  // cached pages of its 64 KiB block, [64 MiB - 64 KiB, 64 MiB) (fault-around): 1 minor
  // fault. With host.fault_around_bytes = 4 KiB (no fault-around), 16.
  auto memfd = replay(dir, t.str(), no_swap + "--set vm.backing=memfd");
  EXPECT_EQ(memfd["mmu_notifier.invalidate_range"], 16);
  EXPECT_EQ(memfd["ept.zaps"], 16);
  EXPECT_EQ(memfd["host.swap.outs"], 0);
  EXPECT_EQ(memfd["host.refaults"], 0);
  EXPECT_EQ(memfd["host.page_faults"] - anon["host.page_faults"], 1);
  EXPECT_EQ(memfd["vm0.faulted_around"], 15);
  auto alone =
      replay(dir, t.str(), no_swap + "--set vm.backing=memfd --set host.fault_around_bytes=4KiB");
  EXPECT_EQ(alone["host.page_faults"] - anon["host.page_faults"], 16);
  EXPECT_EQ(alone["vm0.faulted_around"], 0);
  // The kernel holds a power of two pages, at most a page table's 512.
  for (const char* bad : {"48KiB", "4MiB", "0"}) {
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + no_swap +
                                 "--set host.fault_around_bytes=" + bad));
    EXPECT_EQ(r.status, 2) << bad;
    EXPECT_NE(r.output.find("host.fault_around_bytes: must be a power of two"), std::string::npos)
        << r.output;
  }
}

TEST(Reclaim, BadHostEventsStopTheRunNamingTheRecord) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!vm 1\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kVm));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 2: !vm 1"), std::string::npos) << r.output;
  write_text(dir.file("n.trace"), "R 0x1000\n!madvise dontneed 0x0 4K\n");
  r = run_command(pagesim("replay " + dir.file("n.trace") + " -q --set mode=native"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("not supported in mode native"), std::string::npos) << r.output;
  // A host too small for the guest and no swap: out of memory, naming the keys.
  r = run_command(pagesim("replay " + dir.file("t.trace").substr(0, 0) +
                          "gen:strided:count=4096,footprint=16MiB,stride=4096 -q " + kVm +
                          "--set host.memory=8MiB --set host.swap=0"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("raise host.memory or host.swap"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pagesim::testing
