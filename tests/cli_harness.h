// Runs the pagesim binary the way a user does and reads back what it wrote.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace pagesim::testing {

struct CommandResult {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    r.output.append(buf, n);
  }
  int raw = ::pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

inline std::string pagesim(const std::string& args) {
  return std::string(PAGESIM_BIN) + " " + args;
}

// A fresh folder per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    m_path = std::filesystem::temp_directory_path() /
             ("pagesim_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(m_path);
  }
  ~TempDir() { std::filesystem::remove_all(m_path); }
  std::string file(const std::string& name) const { return (m_path / name).string(); }
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Counters from a `--csv` file (histogram rows are keyed `name[label]`).
inline std::map<std::string, double> read_csv_stats(const std::string& path) {
  std::map<std::string, double> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    auto c1 = line.find(',');
    auto c2 = line.find(',', c1 + 1);
    if (c1 == std::string::npos || line.rfind("provenance.", 0) == 0) {
      continue;  // the provenance rows (sim/provenance.h) are text
    }
    out[line.substr(0, c1)] = std::stod(line.substr(c1 + 1, c2 - c1 - 1));
  }
  return out;
}

// An output file's text without its provenance (sim/provenance.h), which names the file,
// the time and the host: what two runs of the same simulation must share byte for byte.
// JSON: the first member, "provenance": {...} (written as its own lines, closed by a line
// "  },"); CSV: the rows named provenance.*.
inline std::string without_provenance(const std::string& text) {
  const std::string json_start = "{\n  \"provenance\": {";
  if (text.rfind(json_start, 0) == 0) {
    const auto end = text.find("\n  },\n");
    return end == std::string::npos ? text : "{\n" + text.substr(end + 7);
  }
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("provenance.", 0) != 0) {
      out += line + "\n";
    }
  }
  return out;
}

// Each of `pages` 4 KiB pages read `per_page` times in order, `rounds` times over.
inline std::string sweep_trace(std::uint64_t base, int pages, int per_page, int rounds) {
  std::ostringstream os;
  os << "# sweep\n";
  for (int r = 0; r < rounds; ++r) {
    for (int p = 0; p < pages; ++p) {
      for (int i = 0; i < per_page; ++i) {
        os << "R 0x" << std::hex << base + std::uint64_t(p) * 4096 + std::uint64_t(i) * 8
           << std::dec << "\n";
      }
    }
  }
  return os.str();
}

// The replay of `trace` (written to the folder) with `options`: its statistics, from --csv.
inline std::map<std::string, double> replay(const TempDir& dir, const std::string& trace,
                                            const std::string& options = "") {
  write_text(dir.file("t.trace"), trace);
  auto r = run_command(pagesim("replay " + dir.file("t.trace") + " --quiet --csv " +
                               dir.file("s.csv") + " " + options));
  EXPECT_EQ(r.status, 0) << r.output;
  return read_csv_stats(dir.file("s.csv"));
}

// `replay --check` of every generator pattern (loads, stores, fetches over 256 MiB) with
// each of `configurations` (extra options after `mode_options`): each run exits 0, and every
// access was checked at least once (a split access checks twice).
inline void check_every_pattern(const TempDir& dir, const std::string& mode_options,
                                const std::vector<std::string>& configurations) {
  for (const char* pattern : {"sequential", "strided", "uniform", "zipf", "pointer_chase"}) {
    for (const std::string& extra : configurations) {
      const std::string spec = std::string("gen:") + pattern +
                               ":count=20000,footprint=256MiB,writes=0.3,fetches=0.1,seed=7";
      auto r = run_command(pagesim("replay " + spec + " --check -q --csv " + dir.file("c.csv") +
                                   " " + mode_options + " " + extra));
      ASSERT_EQ(r.status, 0) << pattern << " " << extra << "\n" << r.output;
      auto s = read_csv_stats(dir.file("c.csv"));
      EXPECT_GE(s["sim.checks"], s["sim.accesses"]) << pattern << " " << extra;
    }
  }
}

}  // namespace pagesim::testing
