// Issue 19: every output says what made it (sim/provenance.h), `--config OUT.json` makes it
// again bit for bit, `pagesim diff` compares two, `compare --vs` compares configurations,
// and a run stopped partway (SIGINT, SIGTERM, a model error) keeps what it measured in a
// complete file marked partial, or leaves no file at all, never a torn one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "base/stats/json_reader.h"
#include "tests/cli_harness.h"

namespace pagesim::testing {
namespace {

using stats::JsonValue;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

JsonValue read_json(const std::string& path) { return stats::parse_json(read_text(path)); }

// The statistics of a replay output: every member but the provenance.
std::map<std::string, std::string> statistics(const JsonValue& out) {
  std::map<std::string, std::string> s;
  for (const auto& [name, value] : out.members) {
    if (name == "provenance") {
      continue;
    }
    if (value.kind == JsonValue::Kind::kObject) {
      for (const auto& [label, count] : value.members) {
        s[name + "[" + label + "]"] = count.text;
      }
    } else {
      s[name] = value.text;
    }
  }
  return s;
}

// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3), of a file's bytes:
// what provenance.trace.fnv1a64 must say.
std::string fnv1a64(const std::string& path) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : read_text(path)) {
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::string pages_trace(int pages, int rounds) {
  std::string t;
  for (int r = 0; r < rounds; ++r) {
    for (int p = 0; p < pages; ++p) {
      t += "R " + std::to_string(0x10000000 + p * 4096) + "\n";
    }
  }
  return t;
}

TEST(Provenance, EveryJsonOutputSaysWhatMadeIt) {
  TempDir dir;
  write_text(dir.file("t.trace"), "# three records\nR 0x1000\nW 0x2000 8\nR 0x1000\n");
  auto r = run_command(pagesim("replay " + dir.file("t.trace") +
                               " -q --set tlb.l2.entries=3072 --set seed=7 --json " +
                               dir.file("s.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  const JsonValue out = read_json(dir.file("s.json"));
  ASSERT_FALSE(out.members.empty());
  EXPECT_EQ(out.members.front().first, "provenance") << "first, before the statistics";
  const JsonValue& p = *out.member("provenance");
  // The version is the build's git describe, as --version prints it.
  auto v = run_command(pagesim("--version"));
  EXPECT_EQ(v.output, "pagesim " + p.member("version")->text + "\n");
  EXPECT_FALSE(p.member("version")->text.empty());
  EXPECT_NE(p.member("command_line")->text.find("replay " + dir.file("t.trace")),
            std::string::npos);
  EXPECT_NE(p.member("command_line")->text.find("--set tlb.l2.entries=3072"), std::string::npos);
  EXPECT_EQ(p.member("mode")->text, "native");
  const JsonValue& trace = *p.member("trace");
  EXPECT_EQ(trace.member("path")->text, dir.file("t.trace"));
  EXPECT_EQ(trace.member("bytes")->number, double(read_text(dir.file("t.trace")).size()));
  EXPECT_EQ(trace.member("records")->number, 3);  // three records, the comment is none
  EXPECT_EQ(trace.member("fnv1a64")->text, fnv1a64(dir.file("t.trace")));
  EXPECT_EQ(p.member("seed")->number, 7);
  const JsonValue& config = *p.member("configuration");
  EXPECT_EQ(config.member("tlb.l2.entries")->text, "3072");
  EXPECT_EQ(config.member("seed")->text, "7");
  EXPECT_EQ(config.member("mode")->text, "native");
  EXPECT_TRUE(std::regex_match(p.member("start_time")->text,
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_GE(p.member("wall_seconds")->number, 0);
  EXPECT_FALSE(p.member("host")->text.empty());
  EXPECT_EQ(p.member("partial")->kind, JsonValue::Kind::kNull);
  EXPECT_EQ(statistics(out)["sim.accesses"], "3");
}

TEST(Provenance, CsvRowsComeFirstOneALine) {
  TempDir dir;
  auto r = run_command(pagesim("replay gen:sequential:count=100 -q --csv " + dir.file("s.csv")));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string csv = read_text(dir.file("s.csv"));
  EXPECT_EQ(csv.rfind("name,value,description\nprovenance.version,", 0), 0u) << csv;
  EXPECT_NE(csv.find("\nprovenance.trace.path,gen:sequential:count=100,"), std::string::npos);
  EXPECT_NE(csv.find("\nprovenance.trace.bytes,,"), std::string::npos) << "a generator: no file";
  EXPECT_NE(csv.find("\nprovenance.trace.records,100,"), std::string::npos);
  EXPECT_NE(csv.find("\nprovenance.configuration.tlb.l1d.entries,"), std::string::npos);
  // Every row is one line: three fields, the provenance rows first, then the statistics.
  std::istringstream in(csv);
  std::string line;
  bool statistics_started = false;
  while (std::getline(in, line)) {
    const bool provenance = line.rfind("provenance.", 0) == 0;
    EXPECT_FALSE(provenance && statistics_started) << line;
    statistics_started = statistics_started || line.rfind("sim.", 0) == 0;
  }
  EXPECT_TRUE(statistics_started);
  EXPECT_EQ(read_csv_stats(dir.file("s.csv"))["sim.accesses"], 100);
}

// The issue's "Done when": an output's provenance lets pagesim replay reproduce it bit for
// bit. --config reads an output's configuration back; the trace is provenance.trace.path.
TEST(Provenance, ConfigFromAnOutputReproducesItBitForBit) {
  TempDir dir;
  write_text(dir.file("t.trace"),
             pages_trace(300, 2) + "!invlpg 0x10001000\n" + pages_trace(30, 1));
  for (const std::string options :
       {std::string("--set mode=nested --set tlb.l2.replacement=random --set seed=11"),
        std::string("--set mode=shadow --set host.thp=2m --set vm.memory=64MiB "
                    "--set vm.layout=0:60MiB,0x3c00000:4MiB:memfd"),
        std::string("--set os.thp=2m --set walker.pwc.enabled=false")}) {
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q " + options + " --json " +
                                 dir.file("a.json")));
    ASSERT_EQ(r.status, 0) << options << "\n" << r.output;
    const JsonValue a = read_json(dir.file("a.json"));
    const std::string trace = a.member("provenance")->member("trace")->member("path")->text;
    r = run_command(pagesim("replay " + trace + " -q --config " + dir.file("a.json") + " --json " +
                            dir.file("b.json")));
    ASSERT_EQ(r.status, 0) << r.output;
    const JsonValue b = read_json(dir.file("b.json"));
    EXPECT_EQ(statistics(a), statistics(b)) << options;
    EXPECT_EQ(without_provenance(read_text(dir.file("a.json"))),
              without_provenance(read_text(dir.file("b.json"))))
        << "byte for byte";
    // pagesim diff: identical statistics, status 0 (diff(1)'s convention).
    r = run_command(pagesim("diff " + dir.file("a.json") + " " + dir.file("b.json")));
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("configuration: 0 of "), std::string::npos) << r.output;
  }
  // Not an output: a clear error naming the file, a usage status.
  write_text(dir.file("x.json"), "{\"sim.accesses\": 1}\n");
  auto r =
      run_command(pagesim("replay " + dir.file("t.trace") + " --config " + dir.file("x.json")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(dir.file("x.json") + ": no \"provenance\""), std::string::npos)
      << r.output;
}

// Sequential 4 KiB reads over 2048 pages, twice. The STLB indexes by the page number modulo
// its sets (entries / ways). With 1536 entries of 12 ways (128 sets) each set sees 16 pages
// a round, more than its ways: under LRU the second round misses all 2048 again. With 3072
// entries (256 sets) each sees 8: the second round hits. The 64-entry L1d misses every time.
TEST(Provenance, DiffAndCompareVsShowAConfigurationChange) {
  TempDir dir;
  write_text(dir.file("t.trace"), pages_trace(2048, 2));
  const std::string geometry = " --set tlb.l2.entries=1536 --set tlb.l2.ways=12";
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " -q" + geometry + " --json " +
                               dir.file("a.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(pagesim("replay " + dir.file("t.trace") + " -q" + geometry +
                          " --set tlb.l2.entries=3072 --json " + dir.file("b.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(statistics(read_json(dir.file("a.json")))["tlb.l2.misses"], "4096");
  EXPECT_EQ(statistics(read_json(dir.file("b.json")))["tlb.l2.misses"], "2048");
  r = run_command(pagesim("diff " + dir.file("a.json") + " " + dir.file("b.json")));
  EXPECT_EQ(r.status, 1) << r.output;  // the statistics differ
  EXPECT_NE(r.output.find("configuration: 1 of "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  tlb.l2.entries: 1536 -> 3072\n"), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\n  tlb\.l2\.misses +4096 +2048 +0\.5\n)")))
      << r.output;
  // compare --vs: the same change as a column of its own.
  r = run_command(pagesim("compare " + dir.file("t.trace") + " --modes native" + geometry +
                          " --vs tlb.l2.entries=3072 --json " + dir.file("c.json")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("native tlb.l2.entries=3072"), std::string::npos) << r.output;
  const JsonValue c = read_json(dir.file("c.json"));
  const JsonValue& modes = *c.member("modes");
  EXPECT_EQ(modes.member("native")->member("tlb.l2.misses")->text, "4096");
  EXPECT_EQ(modes.member("native tlb.l2.entries=3072")->member("tlb.l2.misses")->text, "2048");
  EXPECT_EQ(c.member("provenance")->member("mode")->text, "native");
  // The records the columns read: 2048 pages, twice.
  EXPECT_EQ(c.member("provenance")->member("trace")->member("records")->number, 2 * 2048);
  r = run_command(pagesim("compare " + dir.file("t.trace") + " --vs tlb.l2.entriez=3072"));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("tlb.l2.entriez"), std::string::npos) << r.output;
}

// A model error at record k keeps the k - 1 records before it (accesses here), marked
// partial with the error, and exits 1. (!memslot is not an event native mode models.)
TEST(Partial, AModelErrorPartwayKeepsTheStatisticsSoFar) {
  TempDir dir;
  for (const int k : {1, 2, 37, 500}) {
    std::string t;
    for (int i = 1; i < k; ++i) {
      t += "R " + std::to_string(0x10000000 + (i % 97) * 4096) + "\n";
    }
    t += "!memslot add 1 0x100000 4096\nR 0x1000\n";
    write_text(dir.file("t.trace"), t);
    auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --json " + dir.file("s.json") +
                                 " --csv " + dir.file("s.csv")));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("trace record " + std::to_string(k)), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("  partial: stopped by an error"), std::string::npos)
        << "the summary says so\n"
        << r.output;
    const JsonValue out = read_json(dir.file("s.json"));
    const JsonValue& p = *out.member("provenance");
    EXPECT_EQ(p.member("partial")->text.rfind(
                  "stopped by an error: trace record " + std::to_string(k) + ":", 0),
              0u)
        << p.member("partial")->text;
    EXPECT_EQ(p.member("trace")->member("records")->number, k);
    EXPECT_EQ(statistics(out)["sim.accesses"], std::to_string(k - 1));
    EXPECT_EQ(read_csv_stats(dir.file("s.csv"))["sim.accesses"], k - 1);
  }
}

struct Killed {
  bool exited = false;
  int status = -1;  // the exit status when it exited, the signal when a signal ended it
};

// `pagesim replay` of a long generated trace, `signal` sent after `delay`.
Killed run_and_signal(const TempDir& dir, int signal, std::chrono::milliseconds delay) {
  const std::string command = pagesim(
      "replay gen:uniform:count=4000000000,footprint=1GiB -q --progress never --json " +
      dir.file("s.json") + " --csv " + dir.file("s.csv") + " > " + dir.file("out.txt") + " 2>&1");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(delay);
  ::kill(pid, signal);
  int raw = 0;
  ::waitpid(pid, &raw, 0);
  Killed k;
  k.exited = WIFEXITED(raw);
  k.status = k.exited ? WEXITSTATUS(raw) : WTERMSIG(raw);
  return k;
}

// SIGINT and SIGTERM at several points: the process either ends by the signal before the
// run began (no file at all) or exits with 128 + the signal's number, leaving both outputs
// complete: parseable, marked partial, their counts those of the records replayed, and no
// temporary file. Never a torn one.
TEST(Partial, SigintAndSigtermLeaveACompleteFileMarkedPartialOrNone) {
  for (const int signal : {SIGINT, SIGTERM}) {
    for (const int ms : {0, 30, 400, 1500}) {
      TempDir dir;
      const Killed k = run_and_signal(dir, signal, std::chrono::milliseconds(ms));
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        files.push_back(e.path().filename().string());
      }
      std::sort(files.begin(), files.end());
      if (!k.exited) {
        EXPECT_EQ(k.status, signal) << ms << " ms";
        // No output at all (out.txt too when the signal came before the shell opened it).
        EXPECT_TRUE(files.empty() || files == std::vector<std::string>{"out.txt"}) << ms;
        continue;
      }
      ASSERT_EQ(k.status, 128 + signal) << ms << " ms\n" << read_text(dir.file("out.txt"));
      ASSERT_EQ(files, (std::vector<std::string>{"out.txt", "s.csv", "s.json"}));
      const JsonValue out = read_json(dir.file("s.json"));  // throws if torn
      const JsonValue& p = *out.member("provenance");
      const std::string name = signal == SIGINT ? "SIGINT" : "SIGTERM";
      const std::string& partial = p.member("partial")->text;
      EXPECT_EQ(partial.rfind("interrupted by " + name + " after trace record ", 0), 0u) << partial;
      const double records = p.member("trace")->member("records")->number;
      EXPECT_EQ(partial, "interrupted by " + name + " after trace record " +
                             std::to_string(static_cast<std::uint64_t>(records)));
      EXPECT_LT(records, 4e9);
      // A generator's records are all accesses, and the run stops between batches.
      EXPECT_EQ(std::stod(statistics(out)["sim.accesses"]), records);
      EXPECT_EQ(read_csv_stats(dir.file("s.csv"))["sim.accesses"], records);
      EXPECT_NE(read_text(dir.file("out.txt")).find("interrupted by " + name), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace pagesim::testing
