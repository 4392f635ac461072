// --preset end to end: every command that takes a configuration accepts it, below --config
// and --set; an unknown name is a usage error listing the presets; host reports what it read.
#include <fstream>
#include <iterator>
#include <string>

#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

TEST(Preset, ReplayRunsTheDemoTraceOnZen4) {
  TempDir dir;
  auto r =
      run_command(pagesim(std::string("replay ") + PAGESIM_SOURCE_DIR +
                          "/traces/examples/demo.trace --preset zen4 --csv " + dir.file("s.csv")));
  ASSERT_EQ(r.status, 0) << r.output;
  auto zen4 = read_csv_stats(dir.file("s.csv"));
  auto d = run_command(pagesim(std::string("replay ") + PAGESIM_SOURCE_DIR +
                               "/traces/examples/demo.trace --csv " + dir.file("d.csv")));
  ASSERT_EQ(d.status, 0) << d.output;
  auto defaults = read_csv_stats(dir.file("d.csv"));
  ASSERT_GT(zen4.count("tlb.l1d.misses"), 0u);
  EXPECT_EQ(zen4["sim.accesses"], defaults["sim.accesses"]);
  EXPECT_NE(zen4["sim.cycles"], defaults["sim.cycles"]);  // other latencies and geometries
}

TEST(Preset, SkylakeSpIsTheDefaultRun) {
  TempDir dir;
  const std::string trace = std::string(PAGESIM_SOURCE_DIR) + "/traces/examples/demo.trace";
  ASSERT_EQ(run_command(pagesim("replay " + trace + " --csv " + dir.file("a.csv"))).status, 0);
  ASSERT_EQ(
      run_command(pagesim("replay " + trace + " --preset skylake-sp --csv " + dir.file("b.csv")))
          .status,
      0);
  EXPECT_EQ(read_csv_stats(dir.file("a.csv")), read_csv_stats(dir.file("b.csv")));
}

TEST(Preset, ConfigDumpShowsThePresetsValues) {
  auto r = run_command(pagesim("config --preset zen4 --dump"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("# Preset zen4 applied first", 0), 0u) << r.output.substr(0, 300);
  for (const char* line :
       {"tlb.l1d.entries = 72\n", "tlb.l1d.ways = 72\n", "tlb.l2.entries = 3072\n",
        "tlb.l2.ways = 12\n", "tlb.l2.entries_1g = 64\n", "cache.l2.size = \"1MiB\"\n",
        "cache.llc.latency = 50\n", "walker.pte_cache.enabled = true\n"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line;
  }
  auto s = run_command(pagesim("config --preset sapphire-rapids"));
  ASSERT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("tlb.l1i.entries = 256\n"), std::string::npos);
  EXPECT_NE(s.output.find("cache.llc.size = \"60MiB\"\n"), std::string::npos);
}

TEST(Preset, ConfigAndSetOverrideThePreset) {
  TempDir dir;
  write_text(dir.file("c.toml"), "[tlb.l2]\nlatency = 11\n");
  auto r = run_command(pagesim("config --preset zen3 --config " + dir.file("c.toml") +
                               " --set cache.llc.latency=40"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("tlb.l2.latency = 11\n"), std::string::npos);
  EXPECT_NE(r.output.find("cache.llc.latency = 40\n"), std::string::npos);
  EXPECT_NE(r.output.find("tlb.l2.entries = 2048\n"), std::string::npos);  // still zen3's
  // The dump of a preset loads back as a file, giving the same configuration.
  write_text(dir.file("zen3.toml"), run_command(pagesim("config --preset zen3")).output);
  auto again = run_command(pagesim("config --config " + dir.file("zen3.toml")));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("tlb.l2.entries = 2048\n"), std::string::npos);
}

TEST(Preset, UnknownNameIsAUsageErrorListingThePresets) {
  const std::string trace = std::string(PAGESIM_SOURCE_DIR) + "/traces/examples/demo.trace";
  for (const std::string& cmd :
       {std::string("config --preset zen9"), "replay " + trace + " --preset zen9",
        "compare " + trace + " --preset zen9"}) {
    auto r = run_command(pagesim(cmd));
    EXPECT_EQ(r.status, 2) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("--preset zen9: unknown preset; the presets are: skylake-sp, "
                            "icelake-sp, sapphire-rapids, zen3, zen4, host"),
              std::string::npos)
        << cmd << "\n"
        << r.output;
  }
}

TEST(Preset, CompareTakesThePresetForEveryMode) {
  auto r = run_command(pagesim(std::string("compare ") + PAGESIM_SOURCE_DIR +
                               "/traces/examples/demo.trace --modes native,nested --preset zen3"));
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(Preset, HostReportsWhatCpuidToldOnStderr) {
  TempDir dir;
  auto r = run_command(pagesim("config --preset host --out " + dir.file("host.toml")));
  ASSERT_EQ(r.status, 0) << r.output;
  // stderr: what CPUID told and what was assumed.
  EXPECT_EQ(r.output.rfind("pagesim: --preset host: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("what CPUID does not tell comes from the closest named preset"),
            std::string::npos);
  // The dump's header carries the same report, each line a TOML comment, and loads back.
  std::ifstream in(dir.file("host.toml"));
  const std::string dump((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(dump.rfind("# Preset host applied first", 0), 0u) << dump.substr(0, 300);
  EXPECT_NE(dump.find("# --preset host: "), std::string::npos);
  EXPECT_EQ(run_command(pagesim("config --config " + dir.file("host.toml"))).status, 0);
  auto replay = run_command(pagesim(std::string("replay ") + PAGESIM_SOURCE_DIR +
                                    "/traces/examples/demo.trace --preset host -q"));
  ASSERT_EQ(replay.status, 0) << replay.output;
  EXPECT_NE(replay.output.find("pagesim: --preset host: "), std::string::npos) << replay.output;
}

TEST(Preset, HelpOfEveryConfiguredCommandListsIt) {
  for (const char* cmd : {"replay --help", "compare --help", "config --help"}) {
    auto r = run_command(pagesim(cmd));
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("--preset NAME"), std::string::npos) << cmd;
    EXPECT_NE(r.output.find("zen4"), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace pagesim::testing
