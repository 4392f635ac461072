// Warm-up (replay --warmup, sim.warmup) and regions of interest (!roi begin / !roi end) end
// to end. The rule they must follow, derived rather than recorded: a run is deterministic,
// so replaying T alone reaches exactly the state the first half of T+T reaches, and the
// statistics of T+T's second pass alone are S(T+T) - S(T), statistic by statistic. A run
// of T+T with the first len(T) accesses as warm-up, or with the second pass inside a
// region of interest, must give exactly that (ratios, which do not subtract, aside, and
// gauges, which are the state at the end).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

// A trace with reuse, page faults, splits and events, so that the second pass differs from
// the first (warm TLBs, tables present) without being empty.
std::string pass(const std::string& mode) {
  std::string t = sweep_trace(0x7f0000000000, 200, 3, 2);
  t += "W 0x7f0000000ffc 8\nX 0x400000\nR 0x401000\n!cr3 1\nR 0x7f0000001000\n";
  t += "!ptewrite 0x7f0000002000 remap\n!invlpg 0x7f0000002000\nW 0x7f0000002000\n!cr3 0\n";
  if (mode != "native") {
    t += "!madvise dontneed 0x7f0000003000 4096\n";  // VMM HVAs: a host-side event
  }
  return t + sweep_trace(0x500000000000, 64, 1, 1);
}

std::uint64_t accesses(const std::string& trace) {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < trace.size(); i = trace.find('\n', i) + 1) {
    n += trace[i] != '!' && trace[i] != '#' ? 1 : 0;
    if (trace.find('\n', i) == std::string::npos) {
      break;
    }
  }
  return n;
}

bool is_ratio(const std::string& key) {
  for (const char* r : {"hit_rate", "translation_overhead_pct", "slowdown"}) {
    const std::string suffix = r;
    if (key.size() >= suffix.size() &&
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

void expect_second_pass(const std::map<std::string, double>& got,
                        const std::map<std::string, double>& both,
                        const std::map<std::string, double>& first, const std::string& what) {
  ASSERT_EQ(got.size(), both.size()) << what;
  for (const auto& [key, value] : both) {
    if (is_ratio(key)) {
      continue;
    }
    // shadow.pages is a gauge (the shadow pages live when the statistics are collected):
    // its value is the state at the end, the same after either run, not a sum of events.
    const double want = key == "shadow.pages" ? value : value - first.at(key);
    EXPECT_EQ(got.at(key), want) << what << ": " << key;
  }
}

TEST(Warmup, WarmupOfOnePassGivesTheSecondPassAlone) {
  for (const std::string mode : {"native", "nested", "shadow"}) {
    TempDir dir;
    const std::string t = pass(mode);
    const std::string opts = "--set mode=" + mode;
    const auto first = replay(dir, t, opts);
    const auto both = replay(dir, t + t, opts);
    const auto warm = replay(dir, t + t, opts + " --warmup " + std::to_string(accesses(t)));
    ASSERT_GT(both.at("sim.accesses"), first.at("sim.accesses"));
    EXPECT_EQ(warm.at("sim.accesses"), first.at("sim.accesses")) << mode;
    expect_second_pass(warm, both, first, mode + " --warmup");
    // The same as a configuration key (what pysim and sweeps set).
    const auto key = replay(dir, t + t, opts + " --set sim.warmup=" + std::to_string(accesses(t)));
    expect_second_pass(key, both, first, mode + " sim.warmup");
  }
}

TEST(Warmup, RegionOfInterestGivesTheSecondPassAlone) {
  for (const std::string mode : {"native", "nested", "shadow"}) {
    TempDir dir;
    const std::string t = pass(mode);
    const std::string opts = "--set mode=" + mode;
    const auto first = replay(dir, t, opts);
    const auto both = replay(dir, t + t, opts);
    // The marks are not events of the machine: sim.events counts T's events only.
    const auto roi = replay(dir, t + "!roi begin\n" + t + "!roi end\n", opts);
    expect_second_pass(roi, both, first, mode + " !roi");
    // Two regions add up: the second pass split in two by a region boundary with the part
    // between them outside (here: nothing between, so the same figures).
    const auto split = replay(dir, "!roi end\n" + t + "!roi begin\n" + t + "!roi end\n", opts);
    expect_second_pass(split, both, first, mode + " !roi twice");
  }
}

TEST(Warmup, LongerThanTheTraceIsAnErrorNamingTheKey) {
  TempDir dir;
  write_text(dir.file("t.trace"), "R 0x1000\nR 0x2000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --quiet --warmup 5 --json " +
                               dir.file("o.json")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("sim.warmup"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("only 2 accesses"), std::string::npos) << r.output;
  EXPECT_FALSE(std::ifstream(dir.file("o.json")).good());  // no output on a failed run
}

}  // namespace
}  // namespace pagesim::testing
