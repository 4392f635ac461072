// Several VMs on one host through `pagesim replay` (the key vms; sim/core_module.h, "Several
// VMs"): each VM's vCPU on a core of its own, host memory, reclaim and swap shared. Two VMs
// that each fit in the host alone but not together: both make progress, each refaults, the
// report gives each VM's refaults and slowdown, and the run is deterministic. Every count
// is derived in a comment from the documented behaviour.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "base/hex.h"
#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

constexpr std::uint64_t kBase = 0x7f0000000000;  // 512 GiB aligned: a fresh PML4 slot
constexpr int kPages = 512;                      // each VM's cycle: 2 MiB of data
constexpr int kRounds = 3;
constexpr int kQuantum = 64;  // records one VM runs before the other

// A one-slot 64 MiB guest per VM.
std::string vm_options(const std::string& mode) {
  return "--set mode=" + mode + " --set vm.memory=64MiB --set vm.layout=0:64MiB ";
}
// A 6 MiB host with 1 MiB of watermarks, all three equal (every reclaim is direct): 5 MiB
// managed above 1 MiB, 1280 frames, less 256 of watermarks and reserve()'s 17 of headroom:
// under 1007 frames for data and tables. One VM's 512 data pages and its few table pages
// fit; two VMs' 1024 data pages do not.
const std::string kSmallHost =
    "--set host.memory=6MiB --set host.watermarks.min=1MiB --set host.watermarks.low=1MiB "
    "--set host.watermarks.high=1MiB ";

// One VM's trace: its 512 pages read in order, 3 times over.
std::string one_vm() { return sweep_trace(kBase, kPages, 1, kRounds); }

// Both VMs run the same cycle over their own memory, alternating every 64 records.
std::string two_vms() {
  std::ostringstream t;
  for (int round = 0; round < kRounds; ++round) {
    for (int first = 0; first < kPages; first += kQuantum) {
      for (int vm = 0; vm < 2; ++vm) {
        t << "!vm " << vm << "\n";
        for (int p = first; p < first + kQuantum; ++p) {
          t << "R " << hex(kBase + std::uint64_t(p) * 4096) << "\n";
        }
      }
    }
  }
  return t.str();
}

std::string vm(int i, const std::string& name) { return "vm" + std::to_string(i) + "." + name; }

class Overcommit : public ::testing::TestWithParam<const char*> {};

TEST_P(Overcommit, WithAmpleMemoryEachVmCountsAsIfAlone) {
  TempDir dir;
  const std::string mode = GetParam();
  // Each VM's core has its TLBs and walker caches and its machine its tables, so switching
  // VMs changes nothing a VM counts: each VM's counts equal the single VM's on its own
  // records (the shared cache model changes cycles, not counts). The default host: no
  // reclaim.
  auto alone = replay(dir, one_vm(), vm_options(mode));
  auto both = replay(dir, two_vms(), vm_options(mode) + "--set vms=2");
  EXPECT_EQ(both["host.reclaim.scanned"], 0);
  EXPECT_EQ(both["host.refaults"], 0);
  EXPECT_EQ(both["sim.accesses"], 2 * kPages * kRounds);
  const std::string layer = mode == "nested" ? "ept.violations" : "shadow.page_faults";
  for (int i = 0; i < 2; ++i) {
    for (const std::string key : {"sim.accesses", "tlb.l2.misses", "walker.walks", "walker.refs",
                                  "guest.page_faults", "host.page_faults", "vmexits.total"}) {
      EXPECT_EQ(both[vm(i, key)], alone[key]) << vm(i, key);
    }
    EXPECT_EQ(both[vm(i, layer)], alone[layer]) << vm(i, layer);
    EXPECT_EQ(both[vm(i, "slowdown")], 1.0);
  }
  EXPECT_EQ(alone["guest.page_faults"], kPages);
}

TEST_P(Overcommit, TwoVmsThatFitAloneButNotTogetherBothRefaultAndSlowDown) {
  TempDir dir;
  const std::string mode = GetParam();
  // Alone, one VM fits the small host: no reclaim (see kSmallHost).
  auto alone = replay(dir, one_vm(), vm_options(mode) + kSmallHost);
  EXPECT_EQ(alone["host.reclaim.scanned"], 0);
  EXPECT_EQ(alone["host.refaults"], 0);
  // Together, under --check (no TLB, walker cache, EPT or shadow entry of either VM refers
  // to a freed frame after any invalidation: the other VM's shootdowns reach its TLBs).
  // The LRU sees both VMs' pages in the order they are read, and the reclaimer scans them
  // in that order (second chance: models/hostmm/host_mm.h), so the combined cycle of 1024
  // data pages, longer than what fits, evicts each page before it comes round again: every
  // read of rounds 2 and 3 refaults, 2 * 512 data refaults per VM; guest table pages may
  // refault on top. Each evicted page was written to swap or had a valid copy there (a
  // page never swapped counts as dirty), so every refault is a swap-in.
  auto both = replay(dir, two_vms(), vm_options(mode) + kSmallHost + "--set vms=2 --check");
  double refaults = 0, swap_ins = 0, swap_outs = 0, reclaimed = 0, cycles = 0;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(both[vm(i, "sim.accesses")], kPages * kRounds) << "VM " << i << " made progress";
    EXPECT_GE(both[vm(i, "refaults")], 2 * kPages);
    EXPECT_EQ(both[vm(i, "swap_ins")], both[vm(i, "refaults")]);
    // Refaults are the host's business: the guest faults once per page, as alone.
    EXPECT_EQ(both[vm(i, "guest.page_faults")], kPages);
    // The pressure costs cycles: more than alone, and a slowdown above 1.
    EXPECT_GT(both[vm(i, "sim.cycles")], alone["sim.cycles"]);
    EXPECT_GT(both[vm(i, "slowdown")], 1.0);
    EXPECT_GT(both[vm(i, "shootdowns")], 0);
    refaults += both[vm(i, "refaults")];
    swap_ins += both[vm(i, "swap_ins")];
    swap_outs += both[vm(i, "swap_outs")];
    reclaimed += both[vm(i, "reclaimed")];
    cycles += both[vm(i, "sim.cycles")];
  }
  // The host's counters are the VMs' added up (no host.load); the sim.* totals too.
  EXPECT_EQ(both["host.refaults"], refaults);
  EXPECT_EQ(both["host.swap.ins"], swap_ins);
  EXPECT_EQ(both["host.swap.outs"], swap_outs);
  EXPECT_EQ(both["host.reclaim.reclaimed"], reclaimed);
  EXPECT_EQ(both["sim.cycles"], cycles);
  EXPECT_GT(both["sim.host_audits"], 0);
}

TEST_P(Overcommit, TheRunIsDeterministic) {
  TempDir dir;
  const std::string mode = GetParam();
  write_text(dir.file("t.trace"), two_vms());
  auto run = [&](const std::string& csv) {
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --csv " + dir.file(csv) +
                                 " " + vm_options(mode) + kSmallHost + "--set vms=2"));
    EXPECT_EQ(r.status, 0) << r.output;
    std::ifstream in(dir.file(csv));
    return without_provenance(std::string(std::istreambuf_iterator<char>(in), {}));
  };
  const std::string first = run("a.csv");
  EXPECT_NE(first.find("vm1.refaults"), std::string::npos);
  EXPECT_EQ(first, run("b.csv"));
}

TEST_P(Overcommit, TheSummaryGivesEachVmsRefaultsAndSlowdown) {
  TempDir dir;
  write_text(dir.file("t.trace"), two_vms());
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " " + vm_options(GetParam()) +
                               kSmallHost + "--set vms=2"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* want :
       {"VM 0\n", "VM 1\n", "VM 0 under pressure", "VM 1 under pressure", "slowdown", "refaults"}) {
    EXPECT_NE(r.output.find(want), std::string::npos) << want << " in\n" << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, Overcommit, ::testing::Values("nested", "shadow"));

TEST(OvercommitErrors, AVmTheHostDoesNotRunAndVmsInNativeMode) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\n!vm 2\n");
  auto r = run_command(
      pagesim("replay " + dir.file("t.trace") + " -q " + vm_options("nested") + "--set vms=2"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("trace record 2: !vm 2: the host runs 2 VMs, 0 to 1 (the key vms)"),
            std::string::npos)
      << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --set vms=2"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("vms: more than one VM needs mode nested or shadow"), std::string::npos)
      << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q --set mode=nested --set vms=65"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("vms"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pagesim::testing
