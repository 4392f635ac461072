// End-to-end tests of mode=nested: the pagesim binary on small traces. Every count is
// derived next to its assertion from the 2D walk (Intel SDM Vol. 3C, "EPT Translation
// Mechanism"; Bhargava et al., ASPLOS 2008), KVM's TDP fault-in path
// (arch/x86/kvm/mmu/: kvm_tdp_page_fault, kvm_mmu_max_mapping_level) and the documented
// frame orders of the guest and host kernels (models/mem/frame_allocator.h) over QEMU's pc
// layout (models/host/qemu_layout.h).
//
// Defaults used below: vm.memory = 4 GiB, so the guest's RAM is [0, 640K), [1M, 3G),
// [4G, 5G) (slots 0, 1, 2); the guest kernel's page-table frames ascend from GPA 1 MiB, its
// data frames descend from 5 GiB; guest.thp = host.thp = never.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "base/hex.h"
#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;  // 512 GiB aligned: a fresh PML4 slot
const std::string kNested = "--set mode=nested ";
const std::string kCachesOff = "--set walker.pwc.enabled=false --set walker.ept_pwc.enabled=false ";

// The references of one successful walk of a mapped page: the walker.refs of "touch A,
// INVLPG A, touch A" minus those of "touch A" (the INVLPG empties the TLB entry and, with
// the caches off, nothing else is cached).
double refs_of_one_walk(const std::string& options) {
  TempDir dir;
  const std::string a = hex(kBase + 0x1000);
  const double once = replay(dir, "R " + a + "\n", kNested + options)["walker.refs"];
  const double twice = replay(dir, "R " + a + "\n!invlpg " + a + "\nR " + a + "\n",
                              kNested + options)["walker.refs"];
  return twice - once;
}

TEST(Nested, TwoDimensionalWalkMakesTheFormulasReferencesWithCachesOff) {
  // n guest and m EPT levels, 4 KiB leaves: (n + 1)(m + 1) - 1.
  EXPECT_EQ(refs_of_one_walk(kCachesOff), 24);                                              // 4+4
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set guest.levels=5 --set ept.levels=5"), 35);  // 5+5
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set ept.levels=5"), 29);                       // 4+5
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set guest.levels=5"), 29);                     // 5+4
  // A 2 MiB guest page on 4 KiB host pages: the guest walk ends at its PDE, 3 guest tables
  // each located by a 4-reference EPT walk and read once, then the data GPA's EPT walk:
  // 3 * (4 + 1) + 4 = 19.
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set guest.thp=2m"), 19);
  // A 4 KiB guest page on 2 MiB host pages: every EPT walk ends at a 2 MiB leaf (3
  // references) provided each GPA's 2 MiB range lies in one memslot. With one slot
  // [0, 4G) (vm.layout) that holds for the guest tables at 1 MiB: 4 * (3 + 1) + 3 = 19.
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set host.thp=2m --set vm.layout=0x0:4g"), 19);
  // 2 MiB on both sides: 3 * (3 + 1) + 3 = 15.
  EXPECT_EQ(
      refs_of_one_walk(kCachesOff + "--set guest.thp=2m --set host.thp=2m --set vm.layout=0x0:4g"),
      15);
  // The same on QEMU's layout: the guest's tables at GPA 1 MiB.. lie in [0, 2M), which the
  // VGA hole splits between slots 0 and 1, so KVM maps them with 4 KiB EPT leaves (4
  // references each) while the data GPA gets its 2 MiB leaf: 3 * (4 + 1) + 3 = 18.
  EXPECT_EQ(refs_of_one_walk(kCachesOff + "--set guest.thp=2m --set host.thp=2m"), 18);
}

TEST(Nested, CachesSaveReferencesButAWalkStillReadsItsLeaves) {
  // With the guest and EPT paging-structure caches warm from the first walk, the second
  // walk of the same page skips every upper level but reads the guest leaf (PTE) and the
  // data GPA's EPT leaf: fewer than 24, and at least 2 (nested_walker.h, "Minimum").
  const double warm = refs_of_one_walk("");
  EXPECT_LT(warm, 24);
  EXPECT_GE(warm, 2);
  // The AMD-style caches on top (nested TLB, page-walk cache by HPA): still at least 2.
  const double amd =
      refs_of_one_walk("--set walker.ntlb.enabled=true --set walker.pte_cache.enabled=true");
  EXPECT_LE(amd, warm);
  EXPECT_GE(amd, 2);
}

TEST(Nested, FirstTouchesFaultInOncePerPageAtEachLayer) {
  TempDir dir;
  const int n = 100;  // 100 pages of one 2 MiB guest region: one guest page table
  auto s = replay(dir, sweep_trace(kBase, n, 2, 1), kNested);
  // The guest kernel faults each page in once.
  EXPECT_EQ(s["guest.page_faults"], n);
  EXPECT_EQ(s["guest.mapped_pages_4k"], n);
  // Its tables for one 2 MiB region: PML4 (root), PDPT, PD, PT.
  EXPECT_EQ(s["guest.page_table_pages"], 4);
  // EPT violations = the distinct guest-physical 4 KiB pages touched: n data pages and the
  // 4 table pages (host.thp = never: 4 KiB EPT leaves). Each is a VM exit.
  EXPECT_EQ(s["ept.violations"], n + 4);
  EXPECT_EQ(s["vmexits.ept_violation"], n + 4);
  EXPECT_EQ(s["vmexits.total"], n + 4);
  EXPECT_EQ(s["vmexits.mmio"], 0);
  // Host page faults = the distinct host (HVA) pages touched: the same n + 4 pages.
  EXPECT_EQ(s["host.page_faults"], n + 4);
  EXPECT_EQ(s["host.mapped_pages_4k"], n + 4);
  // The TLB: one miss per page (the second access hits).
  EXPECT_EQ(s["tlb.l1d.misses"], n);
  EXPECT_EQ(s["tlb.l1d.hits"], n);
}

TEST(Nested, FaultCostsAddUpFromTheirKeys) {
  TempDir dir;
  const int n = 10;
  auto s = replay(dir, sweep_trace(kBase, n, 1, 1),
                  kNested +
                      "--set guest.page_fault_latency=2000 --set host.page_fault_latency=3000 "
                      "--set vmexit.latency=1000 --set vmexit.ept_violation_latency=500");
  // n guest faults; n + 4 EPT violations (data + 4 guest tables), each a VM exit with its
  // handling and a 4 KiB host fault.
  EXPECT_EQ(s["guest.cycles"], n * 2000);
  EXPECT_EQ(s["host.cycles"], (n + 4) * 3000);
  EXPECT_EQ(s["vmexits.cycles"], (n + 4) * (1000 + 500 + 3000));
  EXPECT_EQ(s["sim.fault_cycles"], s["guest.cycles"] + s["vmexits.cycles"]);
}

TEST(Nested, HugeHostPagesFaultOncePerTwoMegabytes) {
  TempDir dir;
  const int n = 100;
  auto s = replay(dir, sweep_trace(kBase, n, 1, 1), kNested + "--set host.thp=2m");
  // Host pages touched: the n data pages lie in [5G - 400K, 5G), HVA [ram + 4G - 400K,
  // ram + 4G) (slot 2 starts at block offset 3G), one 2 MiB host page; the 4 table pages
  // at GPA 1 MiB + [0, 16K), HVA ram + 1M + ..., another. Two host faults.
  EXPECT_EQ(s["host.page_faults"], 2);
  EXPECT_EQ(s["host.mapped_pages_2m"], 2);
  // EPT leaves: the data's 2 MiB GPA range [5G - 2M, 5G) lies in slot 2 and is congruent
  // with its HVA modulo 2 MiB: one 2 MiB leaf, one violation. The tables' range [0, 2M)
  // spans the VGA hole: 4 KiB leaves, one violation each. 1 + 4.
  EXPECT_EQ(s["ept.violations"], 5);
  EXPECT_EQ(s["ept.installs.2m"], 1);
  EXPECT_EQ(s["ept.installs.4k"], 4);
}

TEST(Nested, HugeGuestPagesOnSmallHostPages) {
  TempDir dir;
  // 1024 pages = 4 MiB from a 1 GiB-aligned base, guest.thp = 2m: two guest faults, each
  // mapping a 2 MiB guest frame; tables PML4, PDPT, PD (no PT).
  auto s = replay(dir, sweep_trace(kBase, 1024, 1, 1), kNested + "--set guest.thp=2m");
  EXPECT_EQ(s["guest.page_faults"], 2);
  EXPECT_EQ(s["guest.mapped_pages_2m"], 2);
  EXPECT_EQ(s["guest.page_table_pages"], 3);
  // The host backs them with 4 KiB pages, so every 4 KiB GPA touched is an EPT violation
  // and a host fault: 1024 data pages + 3 table pages. The TLB holds the 2 MiB guest pages
  // splintered to 4 KiB (the smaller of the guest and EPT sizes): a miss per 4 KiB page.
  EXPECT_EQ(s["ept.violations"], 1024 + 3);
  EXPECT_EQ(s["host.page_faults"], 1024 + 3);
  EXPECT_EQ(s["tlb.l1d.misses"], 1024);
}

// A page of guest data at GPA 5G - 4K (slot 2, the first data frame) touched twice around
// the memslot events in `middle`.
std::map<std::string, double> around(const TempDir& dir, const std::string& middle) {
  const std::string a = hex(kBase);
  return replay(dir, "R " + a + "\n" + middle + "R " + a + "\n", kNested);
}

TEST(Nested, DeletedSlotThenAccessIsAnMmioExit) {
  TempDir dir;
  auto s = around(dir, "!memslot del 2\n");
  // First touch: guest fault, 1 + 4 violations (data + tables), 5 host faults. The delete
  // zaps slot 2's leaf and flushes the VM's TLB entries (INVEPT); the second touch walks
  // the guest tables (slot 1, still mapped) to GPA 5G - 4K, which no slot holds: one MMIO
  // exit, emulated, nothing cached.
  EXPECT_EQ(s["vmexits.mmio"], 1);
  EXPECT_EQ(s["sim.mmio_accesses"], 1);
  EXPECT_EQ(s["ept.zaps"], 1);
  EXPECT_EQ(s["ept.violations"], 5);
  EXPECT_EQ(s["vmexits.total"], 5 + 1);
  EXPECT_EQ(s["tlb.l1d.misses"], 2);
}

TEST(Nested, HotAddedSlotThenAccessFaultsInFreshHostMemory) {
  TempDir dir;
  // Slot 2 deleted and a new 1 GiB slot added at the same GPAs: QEMU gives it fresh HVA
  // space above its RAM block, so the second touch is an EPT violation with a host fault.
  auto s = around(dir, "!memslot del 2\n!memslot add 2 0x100000000 1GiB\n");
  EXPECT_EQ(s["vmexits.mmio"], 0);
  EXPECT_EQ(s["ept.violations"], 5 + 1);
  EXPECT_EQ(s["host.page_faults"], 5 + 1);
  EXPECT_EQ(s["sim.memslot_changes"], 2);
}

TEST(Nested, AReadOnlySlotReadsButItsWritesAreMmioExits) {
  TempDir dir;
  // Slot 2 re-added read-only (KVM_MEM_READONLY, as a ROM): the read after it maps the
  // page with an EPT leaf without W (one violation, one host fault: fresh HVA space); the
  // store then walks (its TLB entry is not writable), finds W = 0 and exits: MMIO,
  // emulated, nothing mapped. A second store does the same.
  const std::string a = hex(kBase);
  auto s = replay(dir,
                  "R " + a + "\n!memslot del 2\n!memslot add 2 0x100000000 1GiB ro\nR " + a +
                      "\nW " + a + "\nW " + a + "\n",
                  kNested + "--check");
  EXPECT_EQ(s["ept.violations"], 5 + 1);
  EXPECT_EQ(s["host.page_faults"], 5 + 1);
  EXPECT_EQ(s["vmexits.mmio"], 2);
  EXPECT_EQ(s["sim.mmio_accesses"], 2);
}

TEST(Nested, MovedSlotLeavesItsOldRangeMmio) {
  TempDir dir;
  // Slot 2 moved to 8 GiB: the guest's PTE still names GPA 5G - 4K, in no slot now.
  auto s = around(dir, "!memslot move 2 0x200000000\n");
  EXPECT_EQ(s["vmexits.mmio"], 1);
  EXPECT_EQ(s["ept.zaps"], 1);
}

TEST(Nested, BadMemslotEventsNameTheRecord) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!memslot del 7\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kNested));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 2: !memslot"), std::string::npos) << r.output;
  // Overlapping slot 1 ([1M, 3G)).
  write_text(dir.file("t.trace"), "!memslot add 5 0x200000 4KiB\n");
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + kNested));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 1: !memslot add"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("overlaps"), std::string::npos) << r.output;
  // Native mode has no memslots.
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("not supported in mode native"), std::string::npos) << r.output;
}

TEST(Nested, CheckPassesOnEveryGeneratorPattern) {
  TempDir dir;
  check_every_pattern(dir, kNested,
                      {"", "--set guest.thp=2m --set host.thp=2m",
                       "--set walker.ntlb.enabled=true --set walker.pte_cache.enabled=true "
                       "--set guest.levels=5 --set ept.levels=5 --set ept.ad_bits=false"});
}

TEST(Nested, TracePageShowsTheFaultInPathInOrder) {
  TempDir dir;
  const std::string a = hex(kBase + 0x5000);
  write_text(dir.file("t.trace"), "R " + a + "\nW " + a + "\nR " + a + "\n!invlpg " + a + "\n");
  auto r = run_command(
      pagesim("replay " + dir.file("t.trace") + " -q --trace-page " + a + " " + kNested));
  ASSERT_EQ(r.status, 0) << r.output;
  // Seed 000's fault-in path: a TLB miss, the guest's page fault, an EPT violation on the
  // data GPA with a host page fault and an EPT leaf, the TLB fill; then the store walks to
  // set D, the read hits, the INVLPG drops the entry.
  std::size_t at = 0;
  for (const char* step :
       {"record 1  R ", "TLB miss", "guest page fault at level", "EPT violation on GPA",
        "(the data): memslot 2", "host page fault", "EPT leaf 4k", "TLB fill", "record 2  W",
        "store through a clean TLB entry", "TLB fill", ", D)", "record 4  INVLPG",
        "1 further accesses hit the TLB"}) {
    const std::size_t found = r.output.find(step, at);
    ASSERT_NE(found, std::string::npos)
        << "missing '" << step << "' after offset " << at << " in:\n"
        << r.output;
    at = found;
  }
  // A bad address is a usage error.
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --trace-page 0xzz"));
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(Nested, RequiredNamesArePresent) {
  TempDir dir;
  auto s = replay(dir, sweep_trace(kBase, 4, 1, 1), kNested);
  for (const char* name :
       {"guest.page_faults", "ept.violations", "host.page_faults", "vmexits.total",
        "vmexits.ept_violation", "vmexits.mmio", "walker.refs", "walker.refs.guest",
        "walker.refs.host", "sim.accesses", "sim.cycles", "tlb.l1d.hits", "tlb.l2.misses",
        "walker.walks", "walker.cells.g4h4", "walker.ntlb.refs_saved"}) {
    EXPECT_TRUE(s.count(name)) << name;
  }
  // Guest and EPT references add up to all references.
  EXPECT_EQ(s["walker.refs.guest"] + s["walker.refs.host"], s["walker.refs"]);
  auto r = run_command(pagesim("config --dump"));
  for (const char* key :
       {"mode", "guest.levels", "guest.thp", "ept.levels", "host.thp", "ept.ad_bits",
        "walker.pwc.enabled", "walker.ntlb.enabled", "vm.memory", "vm.vcpus", "vm.layout"}) {
    const std::string k(key);
    const std::string leaf = k.substr(k.rfind('.') + 1);
    EXPECT_NE(r.output.find(leaf + " ="), std::string::npos) << key;
    auto set = run_command(pagesim("config --dump --set " + k + "=" +
                                   (k == "mode"                                     ? "nested"
                                    : k == "vm.layout"                              ? "qemu"
                                    : k.ends_with("thp")                            ? "2m"
                                    : k.ends_with("enabled") || k.ends_with("bits") ? "true"
                                    : k == "vm.memory"                              ? "8GiB"
                                    : k == "vm.vcpus"                               ? "2"
                                                                                    : "5")));
    EXPECT_EQ(set.status, 0) << key << "\n" << set.output;
  }
}

}  // namespace
}  // namespace pagesim::testing

namespace pagesim::testing {
namespace {

TEST(Compare, EachModeEqualsItsOwnReplay) {
  TempDir dir;
  write_text(dir.file("t.trace"), sweep_trace(kBase, 300, 2, 2));
  auto r = run_command(pagesim("compare " + dir.file("t.trace") + " --modes native,nested --json " +
                               dir.file("c.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  // The table names both modes and the rows a reader compares.
  for (const char* text : {"native", "nested", "translation overhead", "references per walk",
                           "EPT violation", "software walks"}) {
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  }
  // Each mode's statistics are those `replay` gives alone (the same deterministic run).
  std::ifstream in(dir.file("c.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string mode : {"native", "nested"}) {
    auto s = replay(dir, sweep_trace(kBase, 300, 2, 2), "--set mode=" + mode);
    const std::string key = "\"" + mode + "\": {";
    const auto at = json.find(key);
    ASSERT_NE(at, std::string::npos) << mode;
    const std::string cycles = "\"sim.cycles\": " + std::to_string(std::uint64_t(s["sim.cycles"]));
    EXPECT_NE(json.find(cycles, at), std::string::npos) << mode << " " << cycles;
  }
}

TEST(Compare, AnUnknownModeIsAUsageErrorAndWritesNothing) {
  TempDir dir;
  auto r = run_command(
      pagesim("compare gen:sequential:count=10 --modes native,bogus --json " + dir.file("c.json")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("mode"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("c.json")));
}

}  // namespace
}  // namespace pagesim::testing
