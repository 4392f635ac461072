// Issue 17's reproducers (tests/data/repro/, copies of the reports' traces), each with the
// behaviour the SDM or the kernel prescribes. Every run here is a --check run unless it
// tests an error: the oracle compares each translation with a walk from scratch and audits
// the host after every invalidation.
#include <gtest/gtest.h>

#include <string>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

std::string repro(const std::string& name) {
  return std::string(PAGESIM_SOURCE_DIR) + "/tests/data/repro/" + name;
}

std::map<std::string, double> replay_file(const TempDir& dir, const std::string& trace,
                                          const std::string& options) {
  auto r = run_command(
      pagesim("replay " + trace + " --check --quiet --csv " + dir.file("s.csv") + " " + options));
  EXPECT_EQ(r.status, 0) << r.output;
  return read_csv_stats(dir.file("s.csv"));
}

// 1. INVLPG of one piece of a page held as smaller entries. SDM Vol. 3A 4.10.2.3 lets a TLB
// cache a large page as smaller entries; 4.10.4.1 (and the INVLPG page of Vol. 2A): INVLPG
// "invalidates all TLB entries for the page". The trace reads 0x1200000, changes and
// invalidates 0x1201000 (same 2 MiB page, another 4 KiB piece), reads 0x1200000 again: the
// piece holding 0x1200000 must be gone, so the read misses both TLB levels again.
TEST(Issue17, InvlpgRemovesEveryPieceOfAGuestHugePage) {
  TempDir dir;
  // Nested: a guest 2 MiB page over the host's 4 KiB pages is held as 4 KiB translations.
  auto s =
      replay_file(dir, repro("splinter_invlpg_2m.trace"), "--set mode=nested --set guest.thp=2m");
  EXPECT_EQ(s["tlb.l1d.misses"], 2);  // both reads: the first cold, the second invalidated
  EXPECT_EQ(s["tlb.l2.misses"], 2);
  EXPECT_EQ(s["tlb.l1d.invalidations"], 1);  // the one piece each level held
  EXPECT_EQ(s["tlb.l2.invalidations"], 1);
}

TEST(Issue17, InvlpgRemovesEveryPieceOfASplinteredPage) {
  TempDir dir;
  // A 1 GiB page fetched through an ITLB with no 1 GiB array is splintered; so is a 2 MiB
  // page with the L1d's 2 MiB array configured off. The trace fetches 0x1200000, remaps and
  // invalidates 0x402000 (same 1 GiB / other 2 MiB piece), fetches 0x1200000 again.
  auto g = replay_file(dir, repro("splinter_invlpg.trace"), "--set os.thp=1g");
  EXPECT_EQ(g["tlb.l1i.misses"], 2);
  auto m = replay_file(dir, repro("splinter_invlpg.trace"),
                       "--set os.thp=2m --set tlb.l1d.entries_2m=0");
  EXPECT_EQ(m["sim.checks"], 2);
}

// 2. Host reclaim with ept.ad_bits=false. KVM's access tracking (mark_spte_for_access_track)
// keeps the frame in the leaf; kvm_unmap_gfn_range zaps such leaves and flushes. An
// access-tracked leaf is old until a walk restores it (fast_page_fault), exactly as an A
// flag is clear until a walk sets it: the host evicts the same pages either way, so the
// refaults and swap traffic equal those with A/D bits, and --check's audit finds no TLB
// entry to a freed frame.
TEST(Issue17, AccessTrackingWithoutAdBitsZapsAndFlushesOnEviction) {
  TempDir dir;
  const std::string trace = "gen:sequential:count=672,footprint=32MiB,size=4096";
  const std::string opts = "--set mode=nested --set vm.memory=64MiB --set host.memory=4MiB";
  auto without = replay_file(dir, trace, opts + " --set ept.ad_bits=false");
  auto with = replay_file(dir, trace, opts + " --set ept.ad_bits=true");
  EXPECT_GT(without["ept.access_tracked"], 0);
  EXPECT_GT(without["host.refaults"], 0);
  EXPECT_EQ(without["host.refaults"], with["host.refaults"]);
  EXPECT_EQ(without["host.swap_outs"], with["host.swap_outs"]);
  EXPECT_EQ(without["host.swap_ins"], with["host.swap_ins"]);
}

// 3. A huge EPT leaf replacing an emptied table (host THP, split reclaim, a memslot deleted
// and added again): KVM flushes every vCPU after such a replacement
// (tdp_mmu_map_handle_target_level -> kvm_flush_remote_tlbs_gfn), so the walker's cached
// upper-level entry cannot lead into the unlinked table. With one vCPU no EPT violation can
// then find its leaf already installed (a spurious one needs a stale cached translation).
// The trace's last event drops the whole 2 MiB at GPA 0 (a DONTNEED of only part of a huge
// host page splits it and drops that part, leaving 4 KiB pages there: issue 18), so its
// refault maps a huge page again over the emptied EPT table.
TEST(Issue17, HugeLeafOverATableFlushesTheWalkCaches) {
  TempDir dir;
  auto s = replay_file(dir, repro("min_split.trace"),
                       "--set mode=nested --set vm.memory=64MiB "
                       "--set vm.layout=0:32MiB,0x2000000:32MiB --set host.memory=24MiB "
                       "--set host.swap=64MiB --set host.watermarks.min=1MiB "
                       "--set host.watermarks.low=2MiB --set host.watermarks.high=3MiB "
                       "--set host.thp=2m --set host.thp_reclaim=split");
  EXPECT_EQ(s["ept.spurious"], 0);
  EXPECT_GT(s["ept.tables_freed"], 0);  // the case happened
}

// 4. A host too small to hold one nested walk's pages at once (the guest's tables and the
// data page evict each other): the walk can never complete, on hardware as here. The run
// stops with the host's memory error naming the keys, not an internal error.
TEST(Issue17, NestedWalkThatCannotFitNamesTheHostKeys) {
  auto r = run_command(pagesim(
      "replay gen:sequential:count=2048,footprint=64MiB,size=4096,writes=1 --quiet "
      "--set mode=nested --set vm.memory=64MiB --set host.memory=4MiB --set host.swap=1MiB"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("raise host.memory or host.swap"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("did not converge"), std::string::npos) << r.output;
}

// 7. MADV_DONTNEED over guest memory that holds guest page tables KVM shadows: the
// mmu_notifier zaps the leaves that map those gfns (kvm_unmap_gfn_range -> kvm_zap_rmap),
// not the shadow pages of the tables, so KVM keeps translating from what the guest wrote
// before while the guest's table now reads as zeros. --check takes the shadow table as the
// truth on such a path (a limit of the oracle, not a model error).
TEST(Issue17, ShadowKeepsTablesTheHostDiscarded) {
  TempDir dir;
  auto s = replay_file(dir, repro("min_sh6.trace"),
                       "--set mode=shadow --set vm.memory=64MiB "
                       "--set vm.layout=0:32MiB,0x2000000:32MiB");
  // Every access not emulated as MMIO (the trace deletes a memslot it then touches) was
  // compared with the oracle.
  EXPECT_GE(s["sim.checks"] + s["sim.mmio_accesses"], s["sim.accesses"]);
}

// 8. Non-canonical addresses. With 48-bit linear addresses bits 63-47 must be equal (SDM
// Vol. 1 3.3.7.1): an access to 0x0000800000001000 raises #GP, so no trace of a running
// program holds one; the record is refused, naming it. With 5-level paging (57 bits) the
// same address is canonical and distinct from 0xffff800000001000: INVLPG of the latter
// leaves the former's entry, and the second read hits.
TEST(Issue17, NonCanonicalAccessIsRefusedAndNeverAliases) {
  TempDir dir;
  auto r = run_command(pagesim("replay " + repro("alias_stale.trace") + " --quiet"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("trace record 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not canonical"), std::string::npos) << r.output;
  auto s = replay_file(dir, repro("alias_stale.trace"), "--set paging.levels=5");
  EXPECT_EQ(s["tlb.l1d.hits"], 1);
  for (const char* mode : {"nested", "shadow"}) {
    r = run_command(
        pagesim("replay " + repro("alias_stale.trace") + " --quiet --set mode=" + mode));
    EXPECT_EQ(r.status, 1) << mode << "\n" << r.output;
  }
}

// INVLPG of a non-canonical address "is the same as a NOP" (SDM Vol. 2A, INVLPG): the entry
// for 0x1000 stays and the second read hits.
TEST(Issue17, InvlpgOfANonCanonicalAddressIsANop) {
  TempDir dir;
  for (const char* mode : {"native", "nested", "shadow"}) {
    auto s = replay(dir, "R 0x1000\n!invlpg 0x800000001000\nR 0x1000\n",
                    std::string("--check --set mode=") + mode);
    EXPECT_EQ(s["tlb.l1d.hits"], 1) << mode;
    EXPECT_EQ(s["sim.invlpgs"], 1) << mode;
  }
}

// Random check seeds 13, 32, 105 and 198: a host huge page that crossed from one VMM mapping
// into the next. A transparent huge page must lie inside its VMA (transhuge_vma_suitable /
// thp_vma_suitable_order: the naturally aligned range within [vm_start, vm_end)); a memfd
// mapped over part of QEMU's RAM block is a VMA of its own, so the anonymous memory beside
// it gets the largest page whose aligned range fits, down to 4 KiB. The VMM's RAM begins at
// a 1 GiB aligned HVA (Hypervisor::kRamBase), slot after slot.
TEST(Issue17, HostHugePagesStayInsideTheirMapping) {
  TempDir dir;
  for (const char* mode : {"nested", "shadow"}) {
    // An 8 MiB anonymous slot then a 2 MiB memfd one: no 1 GiB range fits the 8 MiB
    // mapping, each 2 MiB one does. The balloon then discards a page of the 2 MiB host page
    // (MADV_DONTNEED of 4 KiB: the page is split, the rest stays) and --check audits the host.
    auto s = replay(dir, "R 0x1000\n!balloon inflate 1\n",
                    std::string("--check --set mode=") + mode +
                        " --set host.thp=1g --set vm.memory=10MiB"
                        " --set vm.layout=0:8MiB,0x800000:2MiB:memfd");
    EXPECT_EQ(s["host.mapped_pages_1g"], 0) << mode;
    EXPECT_EQ(s["host.mapped_pages_2m"], 1) << mode;
    // 3 MiB of memfd then 5 MiB of anonymous memory at HVA offset 3 MiB. The guest's data
    // frames descend from the top of its 8 MiB (PageTableOs's frame order), so stores to
    // 1,025 pages fill GPA [4, 8) MiB and then the page below 4 MiB. [4, 6) and [6, 8) MiB
    // lie inside the anonymous mapping: a 2 MiB host page each. [2, 4) MiB crosses into the
    // memfd: the page below 4 MiB gets 4 KiB. The guest's page tables ascend from the
    // bottom, in the memfd: 4 KiB each (shmem).
    std::string stores;
    for (int page = 0; page < 1025; ++page) {
      stores += "W " + std::to_string(0x10000000 + page * 4096) + "\n";
    }
    s = replay(dir, stores,
               std::string("--check --set mode=") + mode +
                   " --set host.thp=2m --set vm.memory=8MiB"
                   " --set vm.layout=0:3MiB:memfd,0x300000:5MiB:anon");
    EXPECT_EQ(s["host.mapped_pages_4k"], s["guest.page_table_pages"] + 1) << mode;
    EXPECT_EQ(s["host.mapped_pages_2m"], 2) << mode;
  }
}

// Random check seeds 373 and 404: MADV_DONTNEED of part of a 1 GiB host page freed the whole
// page while the invalidation covered only the range, leaving the rest mapped in the
// shadow or EPT tables and the TLBs. No 1 GiB split is modelled: hugetlbfs, where Linux
// keeps 1 GiB pages, rounds MADV_DONTNEED to whole huge pages
// (madvise_dontneed_free_valid_vma), so a page the range covers in part stays, and one it
// covers whole goes. The guest's first data frame is the top page of its 1 GiB of RAM
// (PageTableOs's frame order), at HVA 0x7f003ffff000 inside the one 1 GiB host page.
TEST(Issue17, DontneedOfPartOfAOneGigabyteHostPageLeavesItWhole) {
  TempDir dir;
  for (const char* mode : {"nested", "shadow"}) {
    const std::string options = std::string("--check --set mode=") + mode +
                                " --set host.thp=1g --set vm.memory=1GiB --set vm.layout=0:1GiB";
    auto s = replay(dir, "W 0x1000\n!madvise dontneed 0x7f0000200000 4MiB\nR 0x1000\n", options);
    EXPECT_EQ(s["host.page_faults"], 1) << mode;  // the page stayed: no second host fault
    EXPECT_EQ(s["vm0.dropped"], 0) << mode;
    s = replay(dir, "W 0x1000\n!madvise dontneed 0x7f0000000000 1GiB\nR 0x1000\n", options);
    EXPECT_EQ(s["host.page_faults"], 2) << mode;  // dropped whole, faulted back
    EXPECT_EQ(s["vm0.dropped"], 262144) << mode;  // 1 GiB in 4 KiB pages
  }
}

}  // namespace
}  // namespace pagesim::testing
