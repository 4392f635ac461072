// End-to-end tests of mode=shadow: the pagesim binary on small traces. Every count is
// derived next to its assertion from KVM's shadow MMU (arch/x86/kvm/mmu/mmu.c and
// paging_tmpl.h: FNAME(page_fault), FNAME(walk_addr), kvm_mmu_get_page, the unsync and
// write-tracking paths; docs/design-shadow.md) and the guest kernel's documented frame
// order over QEMU's pc layout (as tests/nested_cli_test.cc).
//
// Defaults: shadow.wp_policy = unsync, shadow.cache_roots = true, 4-level guest paging,
// vm.memory = 4 GiB, guest.thp = host.thp = never.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "base/hex.h"
#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;  // 512 GiB aligned: a fresh PML4 slot
const std::string kShadow = "--set mode=shadow ";

// `rounds` switches to address space 1 and back to 0, touching one page in each.
std::string cr3_trace(int rounds) {
  std::string t = "R " + hex(kBase) + "\n";
  for (int i = 0; i < rounds; ++i) {
    t += "!cr3 1\nR " + hex(kBase + 0x100000) + "\n!cr3 0\nR " + hex(kBase) + "\n";
  }
  return t;
}

TEST(Shadow, FirstTouchesMakeOneFixedShadowFaultPerPage) {
  TempDir dir;
  const int n = 10;  // pages of one 2 MiB region: one guest page table
  for (const std::string policy : {"unsync", "emulate"}) {
    auto s = replay(dir, sweep_trace(kBase, n, 2, 1), kShadow + "--set shadow.wp_policy=" + policy);
    // Each first touch: the hardware walk of the shadow table misses -> shadow page fault;
    // KVM's software walk finds no guest PTE -> the fault is the guest's (reflected); the
    // guest kernel maps the page; the retry faults again and KVM installs the shadow leaf.
    // So N fixed faults, N reflected ones, 2N software walks. The second access hits.
    EXPECT_EQ(s["shadow.pf_fixed"], n) << policy;
    EXPECT_EQ(s["shadow.pf_guest"], n) << policy;
    EXPECT_EQ(s["shadow.page_faults"], 2 * n) << policy;
    EXPECT_EQ(s["shadow.sw_walks"], 2 * n) << policy;
    EXPECT_EQ(s["guest.page_faults"], n) << policy;
    EXPECT_EQ(s["tlb.l1d.hits"], n) << policy;
    // Shadow pages: one per guest table (PML4, PDPT, PD, PT), each created once.
    EXPECT_EQ(s["shadow.pages_created"], 4) << policy;
    EXPECT_EQ(s["shadow.roots_created"], 1) << policy;
    // Host faults: the N data pages and the 4 guest table pages; the guest kernel's first
    // touch of each table page whose host page is absent exits (shadow.kernel_faults).
    EXPECT_EQ(s["host.page_faults"], n + 4) << policy;
    EXPECT_EQ(s["shadow.kernel_faults"], 4) << policy;
    EXPECT_EQ(s["vmexits.page_fault"], 2 * n + 4) << policy;
    // Write protection. The first shadow fault creates the shadow root, which
    // write-protects the guest's PML4; the guest kernel then writes its PML4 entry: an
    // upper-level table, always emulated (1). Later faults write only PTEs of the shadowed
    // page table: with unsync, the first such write unsyncs it (1 exit) and the rest go
    // free; with emulate, each of the N - 1 later PTE writes exits.
    if (policy == "unsync") {
      EXPECT_EQ(s["shadow.wp_writes"], 1);
      EXPECT_EQ(s["shadow.unsync"], 1);
      EXPECT_EQ(s["vmexits.wp_write"], 2);
    } else {
      EXPECT_EQ(s["shadow.wp_writes"], 1 + (n - 1));
      EXPECT_EQ(s["shadow.unsync"], 0);
      EXPECT_EQ(s["vmexits.wp_write"], 1 + (n - 1));
    }
    EXPECT_EQ(s["vmexits.total"], s["vmexits.page_fault"] + s["vmexits.wp_write"]) << policy;
  }
}

TEST(Shadow, AWalkReadsAtMostLevelsEntries) {
  TempDir dir;
  // The hardware walks the shadow table, an ordinary x86 table: with the PSCs off a walk
  // reaching a 4 KiB leaf reads `levels` entries, a faulting walk fewer.
  for (int levels : {4, 5}) {
    auto s = replay(
        dir, sweep_trace(kBase, 50, 1, 2),
        kShadow + "--set walker.pwc.enabled=false --set guest.levels=" + std::to_string(levels) +
            " --set tlb.l1d.entries=4 --set tlb.l1d.ways=4 "
            "--set tlb.l2.entries=12 --set tlb.l2.ways=12");
    for (int k = levels + 1; k <= 36; ++k) {
      EXPECT_EQ(s["walker.refs_per_walk[" + std::to_string(k) + "]"], 0) << levels << " " << k;
    }
    // The second round misses the small TLBs and walks a complete shadow table: exactly
    // `levels` references for each of the 50 pages.
    EXPECT_GE(s["walker.refs_per_walk[" + std::to_string(levels) + "]"], 50) << levels;
  }
}

TEST(Shadow, AGuestPteWriteToAWriteProtectedTableExitsOnce) {
  TempDir dir;
  const std::string a = hex(kBase), b = hex(kBase + 0x1000);
  // Two pages mapped; the page table is shadowed (write-protected) once the first fault is
  // fixed. Then the guest remaps a's PTE and invalidates it.
  const std::string before = "R " + a + "\nR " + b + "\n";
  const std::string remap = "!ptewrite " + a + " remap\n!invlpg " + a + "\nR " + a + "\n";
  for (const std::string policy : {"emulate", "unsync"}) {
    const std::string opts = kShadow + "--check --set shadow.wp_policy=" + policy;
    auto s0 = replay(dir, before, opts);
    auto s1 = replay(dir, before + remap, opts);
    if (policy == "emulate") {
      // The remap's PTE store exits and is emulated: one more wp write than before.
      EXPECT_EQ(s1["shadow.wp_writes"] - s0["shadow.wp_writes"], 1);
      EXPECT_EQ(s1["vmexits.wp_write"] - s0["vmexits.wp_write"], 1);
    } else {
      // b's fault already unsynced the page table (its PTE store); the remap's store goes
      // to an unsync page: no exit at all. The INVLPG refreshes the entry from the guest.
      EXPECT_EQ(s1["vmexits.wp_write"] - s0["vmexits.wp_write"], 0);
      EXPECT_EQ(s1["shadow.invlpg_syncs"], 1);
    }
    EXPECT_EQ(s1["vmexits.invlpg"], 1) << policy;
    // --check held: after the INVLPG no shadow or TLB entry maps a's old frame.
    EXPECT_GE(s1["sim.checks"], 3) << policy;
  }
}

TEST(Shadow, CachedShadowRootsAreBuiltOnceUncachedOnEveryCr3Write) {
  TempDir dir;
  const int rounds = 5;
  auto cached = replay(dir, cr3_trace(rounds), kShadow + "--set shadow.cache_roots=true");
  // Every guest CR3 write exits (2 per round).
  EXPECT_EQ(cached["vmexits.cr3_write"], 2 * rounds);
  // Caching MMU (design 2): a root per address space, built once; 4 shadow pages each;
  // the TLB entries (tagged by PCID) survive, so after the first round nothing faults.
  EXPECT_EQ(cached["shadow.roots_created"], 2);
  EXPECT_EQ(cached["shadow.pages_created"], 2 * 4);
  EXPECT_EQ(cached["shadow.pf_fixed"], 2);
  EXPECT_EQ(cached["shadow.zaps"], 0);
  auto fresh = replay(dir, cr3_trace(rounds), kShadow + "--set shadow.cache_roots=false");
  EXPECT_EQ(fresh["vmexits.cr3_write"], 2 * rounds);
  // Design 1: every CR3 write drops every shadow page (the 4 of the address space left) and
  // builds a new root; the access after it refaults its 4 shadow pages back.
  EXPECT_EQ(fresh["shadow.roots_created"], 1 + 2 * rounds);
  EXPECT_EQ(fresh["shadow.pages_created"], (1 + 2 * rounds) * 4);
  EXPECT_EQ(fresh["shadow.zaps"], 2 * rounds * 4);
  EXPECT_EQ(fresh["shadow.pf_fixed"], 1 + 2 * rounds);
}

TEST(Shadow, CheckPassesOnEveryGeneratorPattern) {
  TempDir dir;
  check_every_pattern(dir, kShadow,
                      {"", "--set shadow.wp_policy=emulate --set guest.thp=2m",
                       "--set shadow.cache_roots=false --set guest.levels=5 --set host.thp=2m",
                       "--set shadow.aging=true --set shadow.aging_interval=100 "
                       "--set shadow.max_pages=64"});
}

TEST(Shadow, CheckHoldsAcrossGuestPteChangesAndTeardown) {
  TempDir dir;
  // Unmap, remap, address-space switches and teardown, each followed by what the guest does
  // on hardware (INVLPG, or a CR3 write: the sync points); --check compares every
  // translation with the guest's tables from scratch.
  std::string t;
  for (int i = 0; i < 64; ++i) {
    t += "W " + hex(kBase + std::uint64_t(i) * 4096) + "\n";
  }
  for (int i = 0; i < 64; i += 3) {
    const std::string a = hex(kBase + std::uint64_t(i) * 4096);
    t += "!ptewrite " + a + (i % 2 == 0 ? " unmap" : " remap") + "\n!invlpg " + a + "\n";
    t += "R " + a + "\n";
  }
  t += "!cr3 1\nR " + hex(kBase) + "\n!exit 0\n!cr3 0\nR " + hex(kBase + 0x2000) + "\n";
  for (const std::string policy : {"unsync", "emulate"}) {
    auto s = replay(dir, t, kShadow + "--check --set shadow.wp_policy=" + policy);
    EXPECT_GT(s["sim.checks"], 64) << policy;
    // Unmapped pages come back through a guest page fault: 64 first touches, 11 unmaps
    // (i = 0, 6, ..., 60), 1 page in address space 1, 1 after address space 0's teardown.
    EXPECT_EQ(s["guest.page_faults"], 64 + 11 + 1 + 1) << policy;
  }
}

TEST(Shadow, BadEventsNameTheRecord) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!cr3 5000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kShadow));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("trace record 2: !cr3 5000"), std::string::npos) << r.output;
  write_text(dir.file("t.trace"), "!memslot del 9\n");
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kShadow));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("trace record 1: !memslot del"), std::string::npos) << r.output;
  // The host runs one VM: a `!vm` other than 0 names the record.
  write_text(dir.file("t.trace"), "!vm 3\n");
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kShadow));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 1: !vm 3"), std::string::npos) << r.output;
}

TEST(Shadow, RequiredNamesArePresent) {
  TempDir dir;
  auto s = replay(dir, sweep_trace(kBase, 4, 1, 1), kShadow);
  for (const char* name :
       {"shadow.page_faults", "shadow.pages_created", "shadow.sw_walks", "shadow.wp_writes",
        "shadow.unsync", "shadow.sync", "shadow.zaps", "vmexits.cr3_write", "vmexits.invlpg",
        "vmexits.page_fault", "vmexits.total", "guest.page_faults", "host.page_faults",
        "walker.refs", "tlb.l1d.misses", "sim.event_cycles"}) {
    EXPECT_TRUE(s.count(name)) << name;
  }
}

// The three modes on one trace (pagesim compare), the figures the README shows.
std::map<std::string, std::map<std::string, double>> compare(const TempDir& dir,
                                                             const std::string& trace) {
  write_text(dir.file("t.trace"), trace);
  std::map<std::string, std::map<std::string, double>> out;
  for (const std::string mode : {"native", "nested", "shadow"}) {
    out[mode] = replay(dir, trace, "--set mode=" + mode);
  }
  return out;
}

TEST(Compare, NativeIsCheapestOnATlbMissHeavyTrace) {
  TempDir dir;
  // Uniform random over 1 GiB, 4000 accesses: nearly every access misses the TLBs, with no
  // CR3 writes. Native walks 1 dimension with no exits; nested adds EPT walks and EPT
  // violations; shadow adds shadow page faults (VM exits) to every first touch.
  auto r = run_command(pagesim("trace gen uniform --count 4000 --footprint 1GiB --seed 3 --out " +
                               dir.file("u.trace")));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(dir.file("u.trace"));
  const std::string trace((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = compare(dir, trace);
  EXPECT_LE(m["native"]["sim.cycles"], m["nested"]["sim.cycles"]);
  EXPECT_LE(m["native"]["sim.cycles"], m["shadow"]["sim.cycles"]);
}

TEST(Compare, ShadowExitsGrowWithCr3SwitchesNestedExitsDoNot) {
  TempDir dir;
  auto few = compare(dir, cr3_trace(2));
  auto many = compare(dir, cr3_trace(20));
  // Nested (EPT): guest CR3 writes do not exit; the exits are the EPT violations of the
  // pages first touched, the same for both traces.
  EXPECT_EQ(few["nested"]["vmexits.total"], many["nested"]["vmexits.total"]);
  // Shadow: every CR3 write exits: 2 per round, 36 more for 18 more rounds.
  EXPECT_EQ(many["shadow"]["vmexits.total"] - few["shadow"]["vmexits.total"], 2 * 18);
  EXPECT_EQ(many["shadow"]["vmexits.cr3_write"], 2 * 20);
}

TEST(Shadow, TheZeroPageIsAShadowModeKey) {
  TempDir dir;
  // A read of fresh memory maps the zero page (a host fault that allocates nothing); the
  // store copies it (wp_page_copy), whose invalidation makes KVM retry the store's fault.
  auto s = replay(dir, "R 0x1000\nW 0x1000\n", kShadow + "--set host.zero_page=true");
  EXPECT_EQ(s["vm0.zero_page_faults"], 1);
  EXPECT_EQ(s["vm0.zero_page_cows"], 1);
  EXPECT_EQ(s["shadow.fault_retries"], 1);
  auto r = run_command(
      pagesim("replay " + dir.file("t.trace") + " -q --set mode=nested --set host.zero_page=true"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("host.zero_page: the shared zero page is modelled in shadow mode only"),
            std::string::npos)
      << r.output;
}

TEST(Shadow, HugeZeroPageUnderHostThp) {
  TempDir dir;
  // host.thp=2m with host.zero_page and host.thp_zero_page (on by default): the guest
  // kernel's data frames for three fresh pages come from one 2 MiB of guest RAM (handed
  // out one after the other, the guest kernel's frame order) and so from one huge range of
  // the VMM's memory. The two reads map the huge zero page there once
  // (do_huge_pmd_anonymous_page: one zero-page fault for the 2 MiB); the store allocates
  // the huge page (do_huge_zero_wp_pmd), whose invalidation over the 2 MiB races the
  // store's fault: KVM retries it once.
  const std::string trace = "R 0x1000\nR 0x2000\nW 0x3000\n";
  auto s = replay(dir, trace, kShadow + "--set host.zero_page=true --set host.thp=2m");
  EXPECT_EQ(s["vm0.zero_page_faults"], 1);
  EXPECT_EQ(s["vm0.zero_page_cows"], 1);
  EXPECT_EQ(s["shadow.fault_retries"], 1);
  // transparent_hugepage/use_zero_page = 0: the first read allocates the huge page.
  auto off = replay(dir, trace,
                    kShadow +
                        "--set host.zero_page=true --set host.thp=2m "
                        "--set host.thp_zero_page=false");
  EXPECT_EQ(off["vm0.zero_page_faults"], 0);
  EXPECT_EQ(off["vm0.zero_page_cows"], 0);
  EXPECT_EQ(off["shadow.fault_retries"], 0);
}

}  // namespace
}  // namespace pagesim::testing
