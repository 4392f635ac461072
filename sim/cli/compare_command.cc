// pagesim compare: one trace through several modes, side by side.
//
// SystemC elaborates once per process (sim/simulation.h), so each mode runs in a child
// process (fork, before any elaboration in the parent): the child replays the trace and
// writes its statistics as CSV and then JSON, separated by a NUL byte, into a pipe; the
// parent reads them, prints one table and, with --json, writes
// {"trace": ..., "modes": {"native": {...every statistic...}, ...}}. Modes run one after
// the other, so host memory holds one simulation at a time.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "sim/atomic_file.h"
#include "sim/cli/commands.h"
#include "sim/cli/summary.h"
#include "sim/simulation.h"
#include "traces/trace_reader.h"

namespace pagesim::cli {
namespace {

namespace po = boost::program_options;

struct ModeRun {
  std::string mode;
  std::map<std::string, double> values;  // from the CSV
  std::string json;                      // the whole statistics object
};

std::vector<std::string> split_modes(const std::string& text) {
  std::vector<std::string> modes;
  std::stringstream in(text);
  std::string m;
  while (std::getline(in, m, ',')) {
    if (!m.empty()) {
      modes.push_back(m);
    }
  }
  return modes;
}

std::map<std::string, double> parse_csv(const std::string& csv) {
  std::map<std::string, double> out;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto c1 = line.find(',');
    const auto c2 = line.find(',', c1 + 1);
    if (c1 == std::string::npos) {
      continue;
    }
    try {
      out[line.substr(0, c1)] = std::stod(line.substr(c1 + 1, c2 - c1 - 1));
    } catch (const std::exception&) {
      // a non-numeric value: not a row the table uses
    }
  }
  return out;
}

// The child: replays and writes "CSV \0 JSON" to `fd`; its exit status is replay's.
[[noreturn]] void run_child(const SimParams& params, const std::string& trace_path, int fd) {
  int status = 0;
  try {
    auto trace = traces::open_trace(trace_path);
    RunResult result = run_simulation(params, *trace);
    const std::string payload =
        stats::to_csv(result.stats) + std::string(1, '\0') + stats::to_json(result.stats);
    std::size_t done = 0;
    while (done < payload.size()) {
      const ssize_t n = ::write(fd, payload.data() + done, payload.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        throw std::runtime_error("writing to the parent: " + std::string(std::strerror(errno)));
      }
      done += static_cast<std::size_t>(n);
    }
  } catch (const std::exception& e) {
    std::cerr << "pagesim compare: mode " << config::enum_name(params.mode) << ": " << e.what()
              << "\n";
    status = kExitFailure;
  }
  ::close(fd);
  std::cout.flush();
  std::cerr.flush();
  ::_exit(status);
}

// Runs one mode in a child process; throws with the child's failure.
ModeRun run_mode(const SimParams& params, const std::string& trace_path) {
  int fds[2];
  if (::pipe(fds) != 0) {
    throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  }
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(params, trace_path, fds[1]);
  }
  ::close(fds[1]);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int raw = 0;
  while (::waitpid(pid, &raw, 0) < 0 && errno == EINTR) {
  }
  const std::string mode(config::enum_name(params.mode));
  if (!WIFEXITED(raw) || WEXITSTATUS(raw) != 0) {
    throw std::runtime_error("mode " + mode + " failed (see above)");
  }
  const auto nul = data.find('\0');
  if (nul == std::string::npos) {
    throw std::runtime_error("mode " + mode + ": no statistics came back");
  }
  return ModeRun{mode, parse_csv(data.substr(0, nul)), data.substr(nul + 1)};
}

std::string format_table(const std::string& trace_name, const std::vector<ModeRun>& runs) {
  std::string out = "pagesim compare: " + trace_name + "\n";
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-30s", "");
  out += buf;
  for (const auto& r : runs) {
    std::snprintf(buf, sizeof buf, " %16s", r.mode.c_str());
    out += buf;
  }
  out += "\n";
  // A row: a label and, per mode, the text of a value (or "-" where the mode has none).
  auto row = [&](const std::string& label, auto&& cell) {
    std::snprintf(buf, sizeof buf, "  %-30s", label.c_str());
    out += buf;
    for (const auto& r : runs) {
      std::snprintf(buf, sizeof buf, " %16s", cell(r).c_str());
      out += buf;
    }
    out += "\n";
  };
  auto count = [](const char* name) {
    return [name](const ModeRun& r) {
      auto it = r.values.find(name);
      return it == r.values.end() ? std::string("-") : grouped(it->second);
    };
  };
  auto value = [](const ModeRun& r, const char* name) {
    auto it = r.values.find(name);
    return it == r.values.end() ? 0.0 : it->second;
  };
  row("accesses", count("sim.accesses"));
  row("cycles", count("sim.cycles"));
  row("translation cycles", count("sim.translation_cycles"));
  row("translation overhead", [&](const ModeRun& r) {
    std::snprintf(buf, sizeof buf, "%.2f %%", value(r, "sim.translation_overhead_pct"));
    return std::string(buf);
  });
  row("TLB misses (STLB)", count("tlb.l2.misses"));
  row("page walks", count("walker.walks"));
  row("references per walk", [&](const ModeRun& r) {
    const double walks = value(r, "walker.walks");
    if (walks == 0) {
      return std::string("-");
    }
    std::snprintf(buf, sizeof buf, "%.2f", value(r, "walker.refs") / walks);
    return std::string(buf);
  });
  row("page faults (native OS)", count("os.page_faults"));
  row("guest page faults", count("guest.page_faults"));
  row("host page faults", count("host.page_faults"));
  row("VM exits", count("vmexits.total"));
  row("  EPT violation", count("vmexits.ept_violation"));
  row("  page fault (shadow)", count("vmexits.page_fault"));
  row("  CR3 write", count("vmexits.cr3_write"));
  row("  guest PTE write (shadow)", count("vmexits.wp_write"));
  row("  INVLPG", count("vmexits.invlpg"));
  row("  MMIO", count("vmexits.mmio"));
  row("software walks", count("shadow.sw_walks"));
  return out;
}

}  // namespace

int run_compare(int argc, char** argv) {
  po::options_description desc(
      "Usage: pagesim compare TRACE [--modes M1,M2,...] [options]\n\n"
      "Replays TRACE in each mode, each in its own process with the same configuration\n"
      "otherwise, and prints one table: cycles, translation overhead, walks, references\n"
      "per walk, faults, VM exits by reason, software walks ('-': the mode has no such\n"
      "thing). TRACE is a file (any source of 'pagesim trace --help'), SOURCE:PATH or a\n"
      "gen: spec (docs/trace-format.md). The modes run one after the other; --json is\n"
      "written only when every mode succeeds (through a temporary file renamed over it; a\n"
      "device, FIFO or /dev/stdout is written in place).\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "modes", po::value<std::string>()->default_value("native,nested,shadow")->value_name("LIST"),
      "comma-separated modes: native, nested, shadow")(
      "json", po::value<std::string>()->value_name("OUT"),
      "write {\"trace\": ..., \"modes\": {MODE: {every statistic}}}")("quiet,q", "print no table")(
      "check", "run every mode with sim.check (see pagesim replay --help)")(
      "warmup", po::value<std::string>()->value_name("N"),
      "every mode replays N accesses before counting (sets sim.warmup; see pagesim replay "
      "--help)");
  add_config_options(desc);
  po::variables_map vm;
  if (const auto status = parse_trace_command("compare", desc, argc, argv, vm)) {
    return *status;
  }
  const std::vector<std::string> modes = split_modes(vm["modes"].as<std::string>());
  if (modes.empty()) {
    std::cerr << "pagesim compare: --modes: no mode given\n";
    return kExitUsage;
  }
  // Every mode's configuration is checked before anything runs.
  std::vector<std::unique_ptr<Configuration>> configs;
  for (const auto& mode : modes) {
    auto c = std::make_unique<Configuration>();
    try {
      load_configuration(*c, vm);
      c->set("mode", mode, "--modes");
      if (vm.count("check") != 0) {
        c->set("sim.check", "true", "--check");
      }
      if (vm.count("warmup") != 0) {
        c->set("sim.warmup", vm["warmup"].as<std::string>(), "--warmup");
      }
      c->validate();
    } catch (const config::ConfigError& e) {
      std::cerr << "pagesim compare: configuration error:\n" << e.what() << "\n";
      return kExitUsage;
    }
    configs.push_back(std::move(c));
  }
  const std::string trace_path = vm["trace"].as<std::string>();
  // --json is checked now, before the modes run, and written at the end (sim/atomic_file.h).
  OutputSet outputs;
  std::optional<std::size_t> json_out;
  try {
    if (vm.count("json") != 0) {
      json_out = outputs.add("--json", vm["json"].as<std::string>());
    }
  } catch (const OutputError& e) {
    std::cerr << "pagesim compare: " << e.what() << "\n";
    return kExitFailure;
  }
  try {
    const std::string trace_name = traces::open_trace(trace_path)->describe();
    std::vector<ModeRun> runs;
    for (const auto& c : configs) {
      runs.push_back(run_mode(c->params(), trace_path));
    }
    if (json_out) {
      std::string json = "{\"trace\": \"";
      for (char ch : trace_name) {
        if (ch == '"' || ch == '\\') {
          json += '\\';
        }
        json += ch;
      }
      json += "\", \"modes\": {";
      for (std::size_t i = 0; i < runs.size(); ++i) {
        json += (i == 0 ? "\"" : ", \"") + runs[i].mode + "\": " + runs[i].json;
      }
      json += "}}\n";
      outputs.set_contents(*json_out, std::move(json));
      outputs.commit();
    }
    if (vm.count("quiet") == 0) {
      std::cout << format_table(trace_name, runs);
    }
  } catch (const std::exception& e) {
    std::cerr << "pagesim compare: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace pagesim::cli
