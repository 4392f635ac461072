// End-to-end tests of the trace tools: imported, converted and mixed traces replayed by the
// pagesim binary, and every damaged trace of tests/data/damaged refused with a message that
// names the place and exit status 1, never a crash or a hang.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/cli_harness.h"
#include "traces/champsim_reader.h"

namespace pagesim::testing {
namespace {

// A bound on any one command: a hang fails the test (timeout's status 124) instead of
// stalling the suite.
CommandResult run_bounded(const std::string& args) {
  return run_command("timeout 60 " + pagesim(args));
}

std::map<std::string, double> replay_stats(const TempDir& dir, const std::string& trace,
                                           const std::string& options) {
  const std::string csv = dir.file("stats.csv");
  auto r = run_bounded("replay " + trace + " -q --csv " + csv + " " + options);
  EXPECT_EQ(r.status, 0) << trace << "\n" << r.output;
  return read_csv_stats(csv);
}

// Two address spaces taking turns over 64 pages each, with stores and fetches: what CSV
// can hold (accesses and !cr3).
std::string two_process_trace() {
  std::ostringstream os;
  os << "# two processes\n";
  for (int round = 0; round < 3; ++round) {
    for (int asid = 1; asid <= 2; ++asid) {
      os << "!cr3 " << asid << "\n";
      for (int page = 0; page < 64; ++page) {
        const char* kind = page % 5 == 0 ? "W" : page % 7 == 0 ? "X" : "R";
        os << kind << " 0x" << std::hex << 0x7f0000000000 + page * 4096 + round * 8 << std::dec
           << (page % 3 == 0 ? " 4" : "") << "\n";
      }
    }
  }
  return os.str();
}

TEST(TraceImport, TextBinaryCsvRoundTripsReplayIdentically) {
  TempDir dir;
  write_text(dir.file("a.trace"), two_process_trace());
  // text -> binary -> CSV -> text, each step by `trace convert`.
  for (const auto& [in, out] : {std::pair{"a.trace", "b.pgt"}, std::pair{"b.pgt", "c.csv"},
                                std::pair{"c.csv", "d.trace"}}) {
    auto r = run_bounded("trace convert " + dir.file(in) + " " + dir.file(out));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  for (const char* mode : {"native", "shadow"}) {
    const auto expected = replay_stats(dir, dir.file("a.trace"), std::string("--set mode=") + mode);
    // 3 rounds x 2 processes x 64 accesses; 6 CR3 writes.
    EXPECT_EQ(expected.at("sim.accesses"), 384) << mode;
    for (const char* copy : {"b.pgt", "c.csv", "d.trace"}) {
      EXPECT_EQ(replay_stats(dir, dir.file(copy), std::string("--set mode=") + mode), expected)
          << mode << " " << copy;
    }
  }
}

TEST(TraceImport, ChampsimTraceConvertsToTheDocumentedAccesses) {
  TempDir dir;
  traces::ChampsimInstruction load_store{.ip = 0x401000};
  load_store.source_memory = {0x7f0000001000, 0, 0, 0x7f0000002000};
  load_store.destination_memory = {0, 0x7f0000003000};
  const traces::ChampsimInstruction plain{.ip = 0x401004};
  std::string bytes;
  for (const auto& instr : {load_store, plain, load_store}) {
    const auto encoded = traces::encode_champsim(instr);
    bytes.append(reinterpret_cast<const char*>(encoded.data()), encoded.size());
  }
  write_text(dir.file("t.champsimtrace"), bytes);
  ASSERT_EQ(run_command("xz -k " + dir.file("t.champsimtrace")).status, 0);
  auto r =
      run_bounded("trace convert " + dir.file("t.champsimtrace.xz") + " " + dir.file("t.trace"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(dir.file("t.trace"));
  std::string first_line;
  std::getline(in, first_line);  // the command that made it
  std::stringstream rest;
  rest << in.rdbuf();
  // Per instruction: the fetch (1 byte), loads in slot order, stores (8 bytes: the default,
  // not written).
  EXPECT_EQ(rest.str(),
            "X 0x401000 1\nR 0x7f0000001000\nR 0x7f0000002000\nW 0x7f0000003000\n"
            "X 0x401004 1\n"
            "X 0x401000 1\nR 0x7f0000001000\nR 0x7f0000002000\nW 0x7f0000003000\n");
  // Replayed directly: 4 + 1 + 4 accesses.
  EXPECT_EQ(replay_stats(dir, dir.file("t.champsimtrace.xz"), "").at("sim.accesses"), 9);
}

TEST(TraceImport, MixSwitchesAddressSpacesAndVms) {
  TempDir dir;
  // a: 1000 accesses (VM 0, asid 1), b: 1000 (VM 1, asid 1), c: 500 (VM 0, asid 3);
  // quantum 100: 10 slices of a and b, 5 of c, in the order
  //   a b c  a b c  a b c  a b c  a b c  a b  a b  a b  a b  a b
  // !vm: a->b and b->c change the VM (2 per round for 5 rounds), then a->b, b->a, ...
  // (9 transitions among the last 10 slices); c->a does not: 10 + 9 = 19.
  // !cr3: VM 0 runs a c a c a c a c a c a a a a a: the first (0 -> 1), 9 a<->c changes,
  // then c -> a: 11; VM 1 runs only b: its first (0 -> 1): 12 in all.
  for (const auto& [name, spec] : {std::pair{"a.pgt", "gen:sequential:count=1000,footprint=64KiB"},
                                   std::pair{"b.pgt", "gen:uniform:count=1000,footprint=1MiB"},
                                   std::pair{"c.pgt", "gen:strided:count=500,footprint=1MiB"}}) {
    ASSERT_EQ(run_bounded("trace convert " + std::string(spec) + " " + dir.file(name)).status, 0);
  }
  auto r =
      run_bounded("trace mix --quantum 100 " + dir.file("a.pgt") + "@asid=1 " + dir.file("b.pgt") +
                  "@asid=1,vm=1 " + dir.file("c.pgt") + "@asid=3 --out " + dir.file("m.pgt"));
  ASSERT_EQ(r.status, 0) << r.output;
  // 2500 accesses + 19 !vm + 12 !cr3.
  EXPECT_EQ(r.output, dir.file("m.pgt") + ": 2531 records (binary)\n");
  auto info = run_bounded("trace info " + dir.file("m.pgt"));
  EXPECT_NE(info.output.find("event:     cr3: 12\n"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("event:     vm: 19\n"), std::string::npos) << info.output;
  // Replayed on two VMs in shadow mode (every CR3 write exits): 12 CR3 writes counted.
  const auto s = replay_stats(dir, dir.file("m.pgt"), "--set mode=shadow --set vms=2");
  EXPECT_EQ(s.at("sim.accesses"), 2500);
  EXPECT_EQ(s.at("sim.cr3_writes"), 12);
}

TEST(TraceImport, StatPrintsTheFootprint) {
  TempDir dir;
  write_text(dir.file("t.trace"), two_process_trace());
  auto r = run_bounded("trace stat " + dir.file("t.trace"));
  ASSERT_EQ(r.status, 0) << r.output;
  // 64 pages in each of 2 address spaces; one 2 MiB region each.
  EXPECT_NE(r.output.find("footprint:  128 4K pages, 2 2M pages, 2 1G pages\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  vm 0 asid 1: 192 accesses, 64 4K pages"), std::string::npos)
      << r.output;
  auto json = run_bounded("trace stat --json " + dir.file("t.trace"));
  EXPECT_NE(json.output.find("\"footprint\": {\"4K\": 128, \"2M\": 2, \"1G\": 2}"),
            std::string::npos)
      << json.output;
}

// tests/data/damaged/EXPECTED: "<file>\t<part of the message>" per damaged trace.
std::map<std::string, std::string> expected_damage(const std::filesystem::path& dir) {
  std::map<std::string, std::string> expected;
  std::ifstream in(dir / "EXPECTED");
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) {
      continue;
    }
    expected[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return expected;
}

TEST(TraceImport, EveryDamagedTraceIsRefusedWithItsPlace) {
  const std::filesystem::path dir =
      std::filesystem::path(PAGESIM_SOURCE_DIR) / "tests/data/damaged";
  const auto expected = expected_damage(dir);
  ASSERT_GE(expected.size(), 20u);
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "EXPECTED" || name == "make_damaged.py") {
      continue;
    }
    ASSERT_TRUE(expected.count(name)) << name << " has no line in EXPECTED";
    for (const char* command : {"trace info ", "replay -q "}) {
      auto r = run_bounded(command + entry.path().string());
      // 1: a trace that cannot be read; a crash or a hang would give another status.
      EXPECT_EQ(r.status, 1) << command << name << "\n" << r.output;
      EXPECT_NE(r.output.find(name), std::string::npos) << command << name << "\n" << r.output;
      EXPECT_NE(r.output.find(expected.at(name)), std::string::npos) << command << name << "\n"
                                                                     << r.output;
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(expected.size()));
}

TEST(TraceImport, HelpOfTheNewSubcommands) {
  for (const char* cmd : {"trace stat --help", "trace mix --help"}) {
    auto r = run_command(pagesim(cmd));
    EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("usage: pagesim " + std::string(cmd).substr(0, 10)), std::string::npos)
        << r.output;
  }
}

}  // namespace
}  // namespace pagesim::testing
