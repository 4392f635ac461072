// Warm-up (replay --warmup, sim.warmup) and regions of interest (!roi begin / !roi end) end
// to end. The rule they must follow, derived rather than recorded: a run is deterministic,
// so replaying T alone reaches exactly the state the first half of T+T reaches, and the
// statistics of T+T's second pass alone are S(T+T) - S(T), statistic by statistic. A run
// of T+T with the first len(T) accesses as warm-up, or with the second pass inside a
// region of interest, must give exactly that (ratios, which do not subtract, aside, and
// gauges, which are the state at the end).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
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
  if (key.rfind("pki.", 0) == 0 && key != "pki.instructions") {
    return true;  // per kilo-instruction (stats/per_instruction.h)
  }
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
  // The output says so (docs/outputs.md, "Partial runs"): marked partial with the error,
  // and nothing measured.
  std::ifstream in(dir.file("o.json"));
  const std::string json((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(json.find("\"partial\": \"stopped by an error: sim.warmup = 5"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"sim.accesses\": 0,"), std::string::npos) << json;
}

// --interval N: each interval's deltas. One read per 4 KiB page over 1000 pages, 4 rounds,
// sampled every 1000 accesses, so that each interval is a round. Round 1 touches each page
// first: 1000 L1d misses, 1000 STLB misses, 1000 page faults;
// rounds 2-4 miss the 64-entry L1d on every access too (1000 pages cycle through it) but
// fault nothing. With the 1536-entry STLB holding all 1000 pages, rounds 2-4 hit it: 0
// STLB misses. Every delta of sim.accesses is 1000; the deltas add up to the totals, and a
// last, shorter interval holds the 7 accesses of the tail.
TEST(Interval, EachIntervalsDeltasFollowTheTrace) {
  TempDir dir;
  std::string t = sweep_trace(0x10000000, 1000, 1, 4);
  for (int i = 0; i < 7; ++i) {
    t += "R 0x10000000\n";
  }
  write_text(dir.file("t.trace"), t);
  auto r = run_command(pagesim("replay " + dir.file("t.trace") +
                               " -q --interval 1000 --timeseries " + dir.file("ts.csv") +
                               " --csv " + dir.file("s.csv") + " --json " + dir.file("s.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(dir.file("ts.csv"));
  std::string header;
  std::getline(in, header);
  std::vector<std::string> names;
  for (std::size_t at = 0; at != std::string::npos;) {
    const auto comma = header.find(',', at);
    names.push_back(header.substr(at, comma == std::string::npos ? comma : comma - at));
    at = comma == std::string::npos ? comma : comma + 1;
  }
  ASSERT_EQ(names.front(), "accesses");
  auto column = [&](const std::string& name) {
    const auto it = std::find(names.begin(), names.end(), name);
    EXPECT_NE(it, names.end()) << name;
    return static_cast<std::size_t>(it - names.begin());
  };
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<double> row;
    for (std::size_t at = 0; at != std::string::npos;) {
      const auto comma = line.find(',', at);
      row.push_back(std::stod(line.substr(at, comma == std::string::npos ? comma : comma - at)));
      at = comma == std::string::npos ? comma : comma + 1;
    }
    rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 5u);  // 4 intervals of 1000, then 7
  const std::size_t acc = column("sim.accesses"), l1d = column("tlb.l1d.misses"),
                    l2 = column("tlb.l2.misses"), faults = column("os.page_faults");
  const std::vector<double> ends = {1000, 2000, 3000, 4000, 4007};
  for (std::size_t k = 0; k < rows.size(); ++k) {
    EXPECT_EQ(rows[k][0], ends[k]) << k;
    EXPECT_EQ(rows[k][acc], k < 4 ? 1000 : 7) << k;
    EXPECT_EQ(rows[k][l1d], k < 4 ? 1000 : (k == 4 ? 1 : 0)) << k;  // the tail: one miss, then hits
    EXPECT_EQ(rows[k][l2], k == 0 ? 1000 : 0) << k;
    EXPECT_EQ(rows[k][faults], k == 0 ? 1000 : 0) << k;
  }
  // The deltas add up to the totals of the run.
  auto s = read_csv_stats(dir.file("s.csv"));
  for (const std::string name : {"sim.accesses", "tlb.l1d.misses", "walker.walks", "sim.cycles"}) {
    double sum = 0;
    for (const auto& row : rows) {
      sum += row[column(name)];
    }
    EXPECT_EQ(sum, s[name]) << name;
  }
  // The JSON holds the same series.
  std::ifstream j(dir.file("s.json"));
  const std::string json((std::istreambuf_iterator<char>(j)), {});
  EXPECT_NE(json.find("\"timeseries\": {\"interval\": 1000, \"accesses\": [1000, 2000, 3000, "
                      "4000, 4007]"),
            std::string::npos);
  EXPECT_NE(json.find("\"os.page_faults\": [1000, 0, 0, 0, 0]"), std::string::npos);
  // Bounds: below 1000 is refused naming the key; --timeseries needs an interval.
  r = run_command(pagesim("replay " + dir.file("t.trace") + " --interval 10"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("sim.interval: 10 is below 1000"), std::string::npos) << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " --timeseries " + dir.file("x.csv")));
  EXPECT_EQ(r.status, 2) << r.output;
}

// The series shows the warm-up too (the live counters), while the statistics count only
// after it: the series' deltas past the warm-up add up to the statistics.
TEST(Interval, TheWarmupIsInTheSeriesAndOutOfTheStatistics) {
  TempDir dir;
  write_text(dir.file("t.trace"), sweep_trace(0x10000000, 1000, 1, 4));
  auto r = run_command(pagesim("replay " + dir.file("t.trace") +
                               " -q --warmup 2000 --interval 1000 --timeseries " +
                               dir.file("ts.csv") + " --csv " + dir.file("s.csv")));
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_csv_stats(dir.file("s.csv"));
  EXPECT_EQ(s["sim.accesses"], 2000);
  EXPECT_EQ(s["os.page_faults"], 0);  // every fault was in the warm-up
  std::ifstream in(dir.file("ts.csv"));
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  EXPECT_EQ(line.rfind("1000,", 0), 0u) << line;  // the first interval, in the warm-up
}

}  // namespace
}  // namespace pagesim::testing
