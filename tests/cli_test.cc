// End-to-end tests: the pagesim binary on small traces, counts derived from the geometry
// of the default configuration (Skylake-SP, models/tlb/tlb_params.h) and the x86 paging
// structure (Intel SDM Vol. 3A, 4.5).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

TEST(Replay, SequentialSweepMissesOncePerPage) {
  TempDir dir;
  const int n = 1000;
  auto s = replay(dir, sweep_trace(0x10000000, n, 8, 1));
  EXPECT_EQ(s["sim.accesses"], n * 8);
  // Every page is new: its first access misses the L1 dTLB and the STLB, the other 7
  // hit the entry just filled. 1000 pages > 64 L1 entries does not matter: no page repeats.
  EXPECT_EQ(s["tlb.l1d.misses"], n);
  EXPECT_EQ(s["tlb.l1d.hits"], n * 7);
  EXPECT_EQ(s["tlb.l2.misses"], n);
  EXPECT_EQ(s["tlb.l1i.hits"] + s["tlb.l1i.misses"], 0);
  // First touch of every page faults once; the faulting walk and the retried walk are
  // both walks (a faulting walk caches nothing: SDM 4.10.2.3).
  EXPECT_EQ(s["os.page_faults"], n);
  EXPECT_EQ(s["walker.walks"], 2 * n);
  EXPECT_EQ(s["walker.faults"], n);
}

TEST(Replay, CyclicSweepOverOneMoreThanCapacityMissesEveryAccess) {
  TempDir dir;
  // A fully associative 64-entry LRU L1 dTLB; 65 pages swept cyclically: LRU always
  // evicts the page needed next, so every access misses the L1. The 1536-entry STLB holds
  // all 65 pages, so only the first round misses it.
  const int pages = 65, rounds = 4;
  auto s = replay(dir, sweep_trace(0x40000000, pages, 1, rounds),
                  "--set tlb.l1d.entries=64 --set tlb.l1d.ways=64");
  EXPECT_EQ(s["tlb.l1d.misses"], pages * rounds);
  EXPECT_EQ(s["tlb.l1d.hits"], 0);
  EXPECT_EQ(s["tlb.l2.misses"], pages);
  EXPECT_EQ(s["tlb.l2.hits"], pages * (rounds - 1));
}

TEST(Replay, WalkReferencesFollowTheLevelsWithCachesOff) {
  TempDir dir;
  // With the paging-structure caches off a walk to a 4 KiB page reads one entry per
  // level: L = 4 with 4-level paging, 5 with LA57. The n pages lie in one 2 MiB region
  // (one page table). Faulting walks stop at the first non-present entry: the very first
  // walk finds an empty root table (1 reference); every later page's faulting walk reaches
  // its not-yet-present PTE (L references). Then each page's retried walk succeeds (L).
  const int n = 300;
  for (int levels : {4, 5}) {
    auto s = replay(dir, sweep_trace(0x7f0000000000, n, 1, 1),
                    "--set walker.pwc.enabled=false --set paging.levels=" + std::to_string(levels));
    EXPECT_EQ(s["walker.walks"], 2 * n);
    EXPECT_EQ(s["walker.refs_per_walk[1]"], 1) << levels;
    EXPECT_EQ(s["walker.refs_per_walk[" + std::to_string(levels) + "]"], n + (n - 1)) << levels;
    EXPECT_EQ(s["walker.refs"], 1 + (n - 1) * levels + n * levels) << levels;
  }
}

TEST(Replay, TwoMegabytePagesFaultOncePerRegion) {
  TempDir dir;
  // 1024 4 KiB pages = 4 MiB from a 2 MiB-aligned base: with os.thp=2m, two faults.
  auto s = replay(dir, sweep_trace(0x80000000, 1024, 1, 1), "--set os.thp=2m");
  EXPECT_EQ(s["os.page_faults"], 2);
  EXPECT_EQ(s["os.mapped_pages_2m"], 2);
  // Two 2 MiB translations: the L1 dTLB's 2 MiB array holds both after the first miss.
  EXPECT_EQ(s["tlb.l1d.misses"], 2);
}

TEST(Replay, RequiredStatisticsArePresent) {
  TempDir dir;
  auto s = replay(dir, sweep_trace(0x1000, 4, 1, 1));
  for (const char* name : {"sim.accesses", "sim.cycles", "tlb.l1d.hits", "tlb.l1d.misses",
                           "tlb.l1i.hits", "tlb.l1i.misses", "tlb.l2.hits", "tlb.l2.misses",
                           "walker.walks", "walker.refs", "walker.cycles", "os.page_faults"}) {
    EXPECT_TRUE(s.count(name)) << name;
  }
}

TEST(Replay, JsonIsOneFlatObjectWithHistogramsAsObjects) {
  TempDir dir;
  write_text(dir.file("t.trace"), sweep_trace(0x1000, 4, 2, 1));
  auto r =
      run_command(pagesim("replay " + dir.file("t.trace") + " -q --json " + dir.file("s.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(dir.file("s.json"));
  std::string json((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(json.front(), '{');
  EXPECT_NE(json.find("\"sim.accesses\": 8,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"walker.refs_per_walk\": {\"0\": "), std::string::npos) << json;
}

TEST(Replay, SameRunTwiceGivesIdenticalStatistics) {
  TempDir dir;
  write_text(dir.file("t.trace"), sweep_trace(0x5000000, 200, 3, 3));
  for (const char* out : {"a.json", "b.json"}) {
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --json " + dir.file(out) +
                                 " --set tlb.l2.replacement=random"));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::ifstream a(dir.file("a.json")), b(dir.file("b.json"));
  std::string ja((std::istreambuf_iterator<char>(a)), {}),
      jb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(without_provenance(ja), without_provenance(jb));
}

TEST(Replay, TextAndBinaryTracesGiveIdenticalStatistics) {
  TempDir dir;
  // Loads, stores and fetches, a split access, huge strides: the binary form must carry
  // every field the text form does.
  std::string trace = sweep_trace(0x7f0000000000, 300, 2, 2) +
                      "W 0x7f0000000ffc 8\nX 0x400000\nR 12345678 4\nW 0x7ffffffff000 16\n";
  write_text(dir.file("t.trace"), trace);
  auto r = run_command(pagesim("trace convert " + dir.file("t.trace") + " " + dir.file("t.pgt")));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* in : {"t.trace", "t.pgt"}) {
    r = run_command(
        pagesim("replay " + dir.file(in) + " -q --json " + dir.file(std::string(in) + ".json")));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::ifstream a(dir.file("t.trace.json")), b(dir.file("t.pgt.json"));
  std::string ja((std::istreambuf_iterator<char>(a)), {});
  std::string jb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(without_provenance(ja), without_provenance(jb));
  // One split: the 8 bytes at 0x7f0000000ffc end in the next 4 KiB page; 12345678
  // (0xbc614e) + 4 and 0x7ffffffff000 + 16 stay in their pages.
  EXPECT_NE(ja.find("\"sim.page_splits\": 1,"), std::string::npos) << ja;
}

TEST(Replay, CheckPassesOnEveryGeneratorPattern) {
  TempDir dir;
  check_every_pattern(dir, "", {"", "--set os.thp=2m", "--set paging.levels=5"});
}

TEST(Replay, TracePageShowsMissFaultAndFill) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x5000\nR 0x6000\nR 0x5008\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --trace-page 0x5abc"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::size_t at = 0;
  for (const char* step : {"record 1  R 0x5000  TLB miss", "page fault at level 4",
                           "TLB fill 0x5000 -> HPA", "1 further accesses hit the TLB"}) {
    const std::size_t found = r.output.find(step, at);
    ASSERT_NE(found, std::string::npos) << step << "\n" << r.output;
    at = found;
  }
  // Record 2 is another page: not shown.
  EXPECT_EQ(r.output.find("record 2"), std::string::npos) << r.output;
}

TEST(Events, Cr3SwitchesAddressSpacesTaggedByPcidAndInvlpgDropsOnePage) {
  TempDir dir;
  // Page A in address space 1, then the same GVA in address space 2: a new page table, a
  // new fault, a TLB miss (other PCID). Back in 1, A hits: the entry is PCID-tagged and
  // survives the switch (SDM 4.10.1). INVLPG A in 1 drops A's TLB entries and PCID 1's
  // paging-structure-cache entries (SDM 4.10.4.1): the next access misses and walks all 4
  // levels.
  auto s = replay(dir,
                  "!cr3 1\nR 0x7f0000001000\n!cr3 2\nR 0x7f0000001000\n!cr3 1\n"
                  "R 0x7f0000001000\n!invlpg 0x7f0000001000\nR 0x7f0000001000\n");
  EXPECT_EQ(s["sim.accesses"], 4);
  EXPECT_EQ(s["sim.events"], 4);
  EXPECT_EQ(s["sim.cr3_writes"], 3);
  EXPECT_EQ(s["sim.invlpgs"], 1);
  EXPECT_EQ(s["os.page_faults"], 2);
  EXPECT_EQ(s["tlb.l1d.hits"], 1);
  EXPECT_EQ(s["tlb.l1d.misses"], 3);
  // Two first touches walk twice each (faulting walk, retried walk), plus the walk after
  // INVLPG, which reads one entry per level.
  EXPECT_EQ(s["walker.walks"], 5);
  // The faulting walks find empty roots (1 reference each, nothing cached); the two
  // retried walks and the walk after INVLPG read all 4 levels.
  EXPECT_EQ(s["walker.refs_per_walk[1]"], 2);
  EXPECT_EQ(s["walker.refs_per_walk[4]"], 3);
}

TEST(Events, PteWritesAndTeardownInNativeMode) {
  TempDir dir;
  // Three pages mapped; a's PTE cleared then INVLPG (as the kernel flushes): the next access
  // faults again. b remapped then INVLPG: a new frame, no fault (the PTE is present).
  // Address space 0 torn down: its TLB entries go, and c's next access faults in a fresh
  // address space (4 new table pages). --check holds throughout.
  const std::string t =
      "R 0x10000\nR 0x11000\nR 0x12000\n"
      "!ptewrite 0x10000 unmap\n!invlpg 0x10000\nR 0x10000\n"
      "!ptewrite 0x11000 remap\n!invlpg 0x11000\nR 0x11000\n"
      "!exit 0\nR 0x12000\n";
  auto s = replay(dir, t, "--check");
  EXPECT_EQ(s["os.page_faults"], 3 + 1 + 1);   // first touches, a after unmap, c after exit
  EXPECT_EQ(s["os.page_table_pages"], 4 + 4);  // a fresh root and its tables after !exit
  EXPECT_EQ(s["os.mapped_pages_4k"], 3 + 1 + 1);
  EXPECT_GE(s["sim.checks"], 6);
}

TEST(Events, PteWritesAndTeardownInNestedMode) {
  TempDir dir;
  // The same in a guest: the guest kernel's changes; an unmapped page's refault maps a new
  // guest frame (another GPA: one more EPT violation); the remapped page's new frame is
  // another GPA too (one more violation, no guest fault); after !exit the fresh address
  // space's tables and c refault (4 tables + 1 page: 5 violations).
  const std::string t =
      "R 0x10000\nR 0x11000\nR 0x12000\n"
      "!ptewrite 0x10000 unmap\n!invlpg 0x10000\nR 0x10000\n"
      "!ptewrite 0x11000 remap\n!invlpg 0x11000\nR 0x11000\n"
      "!exit 0\nR 0x12000\n";
  auto s = replay(dir, t, "--check --set mode=nested");
  EXPECT_EQ(s["guest.page_faults"], 3 + 1 + 1);
  EXPECT_EQ(s["ept.violations"], (3 + 4) + 1 + 1 + (4 + 1));
  EXPECT_GE(s["sim.checks"], 6);
}

TEST(Events, AnEventTheModeDoesNotModelIsAnErrorNamingTheRecord) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!memslot add 1 0x100000 4096\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --json " + dir.file("s.json")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("trace record 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("memslot add"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mode native"), std::string::npos) << r.output;
  // An error partway keeps what was measured (issue 19): the output holds the statistics up
  // to the failing record, marked partial with the error. The one access before it counts.
  std::ifstream in(dir.file("s.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(json.find("\"partial\": \"stopped by an error: trace record 2: the event '!memslot"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"sim.accesses\": 1,"), std::string::npos) << json;
}

TEST(Errors, UnknownKeyIsAUsageErrorNamingTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --set tlb.l1d.wayz=2 --json " +
                               dir.file("s.json")));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("tlb.l1d.wayz"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.json")));
}

TEST(Errors, ImpossibleGeometryNamesTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --set tlb.l1d.ways=0"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("tlb.l1d.ways: 0"), std::string::npos) << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " --set paging.levels=3"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("paging.levels"), std::string::npos) << r.output;
}

TEST(Errors, DamagedTraceNamesTheLineAndLeavesNoOutput) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\nW 0x2000 8\nQ 0x3000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --json " + dir.file("s.json") +
                               " --csv " + dir.file("s.csv")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(":3"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.json")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("s.csv")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(Errors, MissingTraceAndUnwritableOutput) {
  TempDir dir;
  auto r = run_command(pagesim("replay " + dir.file("absent.trace")));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("absent.trace"), std::string::npos) << r.output;
  write_text(dir.file("t.trace"), "R 0x1000\n");
  r = run_command(pagesim("replay " + dir.file("t.trace") + " --json /nonexistent/s.json"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("/nonexistent"), std::string::npos) << r.output;
}

TEST(Config, DumpDocumentsEveryKeyAndLoadsBack) {
  TempDir dir;
  auto r = run_command(pagesim("config --dump --set tlb.l2.ways=16 --set tlb.l2.entries=2048"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* key :
       {"mode", "tlb.l1d.entries", "tlb.l1d.ways", "tlb.l1i.entries", "tlb.l1i.ways",
        "tlb.l2.entries", "tlb.l2.ways", "walker.pwc.enabled", "paging.levels", "os.thp"}) {
    EXPECT_NE(r.output.find(std::string("\n") + key + " = "), std::string::npos) << key;
  }
  write_text(dir.file("c.toml"), r.output);
  auto again = run_command(pagesim("config --config " + dir.file("c.toml")));
  EXPECT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.output, r.output);
}

// Configuration limits (issue 17, item 9): a value past a bound, or keys that contradict
// each other, stop `replay` before it runs, with exit status 2 and the key named; why each
// bound is what it is: sim/sim_params_test.cc, ConfigLimits, and docs/model.md.
TEST(Limits, ValuesPastTheirBoundsAreUsageErrorsNamingTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n");
  const std::string replay = "replay " + dir.file("t.trace") + " --json " + dir.file("s.json");
  struct Case {
    const char* sets;
    const char* expected;  // in stderr: the key and the reason
  };
  for (const Case& c : {
           // a cycles value of 2^64 - 1 wrapped the run's totals (2^32 is the bound)
           Case{"core.cycles_per_access=18446744073709551615",
                "core.cycles_per_access: '18446744073709551615' is more than 4294967296"},
           // structure sizes that used to die in std::bad_alloc, naming no key
           Case{"walker.pwc.pd.entries=2147483648", "walker.pwc.pd.entries: 2147483648 entries"},
           Case{"tlb.l2.entries=2147483648", "tlb.l2.entries: 2147483648 entries"},
           Case{"cache.l1.size=1TiB", "cache.l1.size: 1TiB is 17179869184 lines"},
           // host.load past host.memory + host.swap used to run for minutes
           Case{"mode=nested --set host.load=512GiB", "host.load: 512GiB is more than"},
           // a high watermark below the default low one used to exit 1 from the model
           Case{"mode=nested --set host.watermarks.high=4KiB",
                "host.watermarks.high: 4KiB is below host.watermarks.low"},
           Case{"mode=nested --set host.memory=8MiB --set host.watermarks.min=8MiB",
                "host.watermarks.min: 8MiB is not below the 7MiB the host manages"},
           // beyond the VMM's HVA space and the 4-level EPT's 256 TiB of GPA
           Case{"mode=nested --set vm.memory=1024TiB", "vm.memory: 1PiB is more than 129TiB"},
           // KB is refused (the docs said so), with the fix
           Case{"vm.memory=4KB", "vm.memory: '4KB' is not a byte size: KB is refused"},
           // the check names the group's own key, not os.page_fault_latency
           Case{"host.page_fault_latency=3",
                "host.clear_page_latency: must not exceed host.page_fault_latency (3)"},
       }) {
    auto r = run_command(pagesim(replay + " --set " + c.sets));
    EXPECT_EQ(r.status, 2) << c.sets << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.sets << "\n" << r.output;
    EXPECT_EQ(r.output.find("os.page_fault_latency"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir.file("s.json"))) << c.sets;
  }
  // `config --dump` states the bounds next to the keys.
  auto r = run_command(pagesim("config --dump"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("# allowed: a multiple of 4 KiB, at least 2MiB; at most 129TiB\n"
                          "vm.memory = "),
            std::string::npos)
      << r.output;
}

TEST(Limits, RunningOutOfMemoryNamesTheKeyThatSizesIt) {
  // Valid configurations whose trace needs more memory than they give: exit status 1 (the
  // run failed, the configuration was not wrong) and the key to raise. 2 MiB of guest RAM
  // hold 256 frames above the low megabyte; the trace touches 1024 pages.
  auto r = run_command(
      pagesim("replay gen:strided:count=1024,footprint=4MiB,stride=4KiB --set mode=nested "
              "--set vm.memory=2MiB"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("the guest is out of physical memory: no free 4k frame (vm.memory: "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("raise vm.memory"), std::string::npos) << r.output;
  r = run_command(
      pagesim("replay gen:strided:count=1024,footprint=4MiB,stride=4KiB --set mode=shadow "
              "--set vm.memory=2MiB"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("raise vm.memory"), std::string::npos) << r.output;
  // Native: 4 MiB of machine memory, 768 frames above the low megabyte, 2048 pages touched.
  r = run_command(
      pagesim("replay gen:strided:count=2048,footprint=8MiB,stride=4KiB --set os.memory=4MiB"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("out of physical memory: no free 4k frame (os.memory: 4MiB of RAM"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("raise os.memory"), std::string::npos) << r.output;
}

TEST(Cli, EveryCommandHasHelp) {
  for (const char* cmd : {"--help", "replay --help", "config --help", "trace --help",
                          "trace gen --help", "trace convert --help"}) {
    auto r = run_command(pagesim(cmd));
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("sage: pagesim"), std::string::npos) << cmd << "\n" << r.output;
  }
  EXPECT_EQ(run_command(pagesim("frobnicate")).status, 2);
}

// cache.data: every data access goes through the caches (models/cache/cache_hierarchy.h).
// One 4 KiB page read line by line, 64 lines, twice: the 64 lines lie in 64 consecutive sets
// of the default L1 (32 KiB, 8 ways, 64 sets), so the first round misses to DRAM once per
// line and the second hits the L1 every time (the walk's four table lines take one way in
// four of those sets). Each load costs its level's latency: 64 x (60 + 210) + 64 x 4.
// Translation is untouched: the same TLB counts, and without the key no cache.data rows.
TEST(Replay, DataAccessesGoThroughTheCachesWithCacheData) {
  TempDir dir;
  std::string trace;
  for (int round = 0; round < 2; ++round) {
    for (int line = 0; line < 64; ++line) {
      trace += "R " + std::to_string(0x7f0000000000 + 64 * line) + "\n";
    }
  }
  auto on = replay(dir, trace, "--set cache.data=true");
  EXPECT_EQ(on["cache.data.accesses"], 128);
  EXPECT_EQ(on["cache.data.dram"], 64);
  EXPECT_EQ(on["cache.data.l1_hits"], 64);
  EXPECT_EQ(on["cache.data.cycles"], 64 * (60 + 210) + 64 * 4);
  auto off = replay(dir, trace);
  EXPECT_EQ(off.count("cache.data.accesses"), 0u);
  for (const char* k : {"tlb.l1d.hits", "tlb.l1d.misses", "walker.walks", "os.page_faults"}) {
    EXPECT_EQ(on[k], off[k]) << k;
  }
  // Walks to new pages (each page's PTE shares its line with 7 neighbours', so a walk
  // finds the line of the walk before in the L1), with a 64 KiB data sweep between them
  // over 16 pages the TLB holds (no walk): 16 lines in each L1 set, more than its 8 ways.
  // With cache.data the sweep evicts the table lines and the walks miss the L1 for them.
  std::string polluting;
  auto read = [&](std::uint64_t a) { polluting += "R " + std::to_string(a) + "\n"; };
  const std::uint64_t sweep = 0x7f0000000000, walked = 0x7f0000200000;
  for (int page = 0; page < 16; ++page) read(sweep + 4096 * page);
  for (int k = 0; k < 32; ++k) {
    read(walked + 4096 * k);
    for (int line = 0; line < 16 * 64; ++line) read(sweep + 64 * line);
  }
  on = replay(dir, polluting, "--set cache.data=true");
  off = replay(dir, polluting);
  EXPECT_GT(on["cache.l1.misses"], off["cache.l1.misses"] + 16);
  EXPECT_EQ(on["walker.refs"], off["walker.refs"]);
}

// core.walk_window (models/walker/page_walkers.h): walks within the window of an earlier
// walk overlap it on the free page walkers. Overlap changes time only: every count is the
// same, and the cycles it hides (sim.walk_cycles_hidden) are exactly what sim.cycles and
// sim.translation_cycles lose. A walk that faults waits for everything older, so a run of
// first touches (each walk faults) hides nothing.
TEST(Replay, OverlappedWalksChangeTimeOnly) {
  TempDir dir;
  std::string first_touches, walks;
  // 4096 pages: round 1 faults each in; round 2 walks each again without a fault (the STLB's
  // 1536 entries cannot hold 4096 pages touched in order, so every access misses).
  for (int round = 0; round < 2; ++round) {
    for (int page = 0; page < 4096; ++page) {
      const std::string r = "R " + std::to_string(0x7f0000000000 + 4096ull * page) + "\n";
      walks += r;
      if (round == 0) first_touches += r;
    }
  }
  auto off = replay(dir, walks);
  auto on = replay(dir, walks, "--set core.walk_window=72 --set core.page_walkers=2");
  for (const char* k : {"tlb.l1d.misses", "tlb.l2.misses", "walker.walks", "walker.refs",
                        "os.page_faults", "cache.l1.misses"}) {
    EXPECT_EQ(on[k], off[k]) << k;
  }
  EXPECT_EQ(off["sim.walk_cycles_hidden"], 0);
  EXPECT_GT(on["sim.walk_cycles_hidden"], 0);
  EXPECT_EQ(on["sim.cycles"] + on["sim.walk_cycles_hidden"], off["sim.cycles"]);
  EXPECT_EQ(on["sim.translation_cycles"] + on["sim.walk_cycles_hidden"],
            off["sim.translation_cycles"]);
  // More walkers hide at least as much.
  auto four = replay(dir, walks, "--set core.walk_window=72 --set core.page_walkers=4");
  EXPECT_GE(four["sim.walk_cycles_hidden"], on["sim.walk_cycles_hidden"]);
  auto faults = replay(dir, first_touches, "--set core.walk_window=72 --set core.page_walkers=2");
  EXPECT_EQ(faults["os.page_faults"], 4096);
  EXPECT_EQ(faults["sim.walk_cycles_hidden"], 0);
}

}  // namespace
}  // namespace pagesim::testing
