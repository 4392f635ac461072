// pagesim compare: one trace through several modes, side by side.
//
// SystemC elaborates once per process (sim/simulation.h), so each mode runs in a child
// process (fork, before any elaboration in the parent): the child replays the trace and
// writes its statistics as CSV and then JSON, separated by a NUL byte, into a pipe; the
// parent reads them, prints one table and, with --json, writes {"provenance": ...,
// "trace": ..., "modes": {"native": {...every statistic...}, ...}} (a --vs column is
// named "MODE KEY=VALUE,..."). Modes run one after the other, so host memory holds one
// simulation at a time.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "base/atomic_file.h"
#include "sim/cli/commands.h"
#include "sim/cli/summary.h"
#include "sim/provenance.h"
#include "sim/simulation.h"
#include "sim/stop_request.h"
#include "traces/trace_reader.h"

namespace pagesim::cli {
namespace {

namespace po = boost::program_options;

struct ModeRun {
  std::string mode;                      // the column's label: the mode, and a --vs variant
  std::map<std::string, double> values;  // from the CSV
  std::string json;                      // the whole statistics object
  std::string partial;                   // why the child stopped early ("" when it did not)
  std::uint64_t replayed_records = 0;    // records the child read (accesses and events)
};

std::vector<std::string> split_list(const std::string& text) {
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

// The child: replays and writes "CSV \0 JSON \0 PARTIAL \0 RECORDS" to `fd`; its exit status
// is replay's.
[[noreturn]] void run_child(const SimParams& params, const std::string& trace_path, int fd) {
  int status = 0;
  try {
    auto trace = traces::open_trace(trace_path);
    RunResult result = run_simulation(params, *trace);
    const std::string payload = stats::to_csv(result.stats) + std::string(1, '\0') +
                                stats::to_json(result.stats) + std::string(1, '\0') +
                                result.partial.value_or("") + std::string(1, '\0') +
                                std::to_string(result.replayed_records);
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
ModeRun run_mode(const SimParams& params, const std::string& trace_path, const std::string& label) {
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
  if (!WIFEXITED(raw) || WEXITSTATUS(raw) != 0) {
    throw std::runtime_error(label + " failed (see above)");
  }
  const auto nul = data.find('\0');
  const auto nul2 = nul == std::string::npos ? nul : data.find('\0', nul + 1);
  const auto nul3 = nul2 == std::string::npos ? nul2 : data.find('\0', nul2 + 1);
  if (nul3 == std::string::npos) {
    throw std::runtime_error(label + ": no statistics came back");
  }
  return ModeRun{label, parse_csv(data.substr(0, nul)), data.substr(nul + 1, nul2 - nul - 1),
                 data.substr(nul2 + 1, nul3 - nul2 - 1), std::stoull(data.substr(nul3 + 1))};
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
      "written when every mode succeeds, or when Ctrl-C (SIGINT, SIGTERM) stops the run\n"
      "(the columns so far, marked partial; exit status 128 + the signal), through a\n"
      "temporary file renamed over it (a device, FIFO or /dev/stdout is written in\n"
      "place). Its \"provenance\" says how it was made (docs/outputs.md).\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "modes", po::value<std::string>()->default_value("native,nested,shadow")->value_name("LIST"),
      "comma-separated modes: native, nested, shadow")(
      "json", po::value<std::string>()->value_name("OUT"),
      "write {\"trace\": ..., \"modes\": {MODE: {every statistic}}}")("quiet,q", "print no table")(
      "check", "run every mode with sim.check (see pagesim replay --help)")(
      "warmup", po::value<std::string>()->value_name("N"),
      "every mode replays N accesses before counting (sets sim.warmup; see pagesim replay "
      "--help)")(
      "vs", po::value<std::vector<std::string>>()->composing()->value_name("KEY=VALUE[,...]"),
      "also run each mode with these keys changed, as a column of its own (repeatable: one "
      "column per --vs); e.g. --modes native --vs tlb.l2.entries=3072");
  add_config_options(desc);
  po::variables_map vm;
  if (const auto status = parse_trace_command("compare", desc, argc, argv, vm)) {
    return *status;
  }
  const std::vector<std::string> modes = split_list(vm["modes"].as<std::string>());
  if (modes.empty()) {
    std::cerr << "pagesim compare: --modes: no mode given\n";
    return kExitUsage;
  }
  // The variants: the configuration as given, then one per --vs.
  std::vector<std::string> variants{""};
  if (vm.count("vs") != 0) {
    for (const auto& v : vm["vs"].as<std::vector<std::string>>()) {
      variants.push_back(v);
    }
  }
  // Every column's configuration is checked before anything runs: each mode, each variant.
  std::vector<std::unique_ptr<Configuration>> configs;
  std::vector<std::string> labels;
  for (const auto& mode : modes) {
    for (const auto& variant : variants) {
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
        for (const auto& assignment : split_list(variant)) {
          const auto eq = assignment.find('=');
          if (eq == std::string::npos) {
            throw config::ConfigError("--vs: '" + assignment + "' is not KEY=VALUE");
          }
          c->set(assignment.substr(0, eq), assignment.substr(eq + 1), "--vs");
        }
        c->validate();
      } catch (const config::ConfigError& e) {
        std::cerr << "pagesim compare: configuration error:\n" << e.what() << "\n";
        return kExitUsage;
      }
      configs.push_back(std::move(c));
      labels.push_back(variant.empty() ? mode : mode + " " + variant);
    }
  }
  const std::string trace_path = vm["trace"].as<std::string>();
  // --json is checked now, before the modes run, and written at the end (base/atomic_file.h).
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
  const std::string start_time = utc_now();
  const auto started = std::chrono::steady_clock::now();
  try {
    const std::string trace_name = traces::open_trace(trace_path)->describe();
    // Ctrl-C reaches the child replaying (same process group): it stops and sends the
    // statistics so far; the columns not run yet are left out, the output marked partial.
    install_stop_handlers();
    std::vector<ModeRun> runs;
    std::optional<std::string> partial;
    const bool show_progress = ::isatty(STDERR_FILENO) != 0;
    const auto compare_started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < configs.size() && !partial; ++i) {
      if (show_progress) {
        // One column after another: which one, and the time so far.
        std::fprintf(
            stderr, "\rpagesim compare: column %zu of %zu (%s), %.0f s ", i + 1, configs.size(),
            labels[i].c_str(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - compare_started)
                .count());
        std::fflush(stderr);
      }
      runs.push_back(run_mode(configs[i]->params(), trace_path, labels[i]));
      if (show_progress) {
        std::fprintf(stderr, "\r%79s\r", "");
      }
      if (!runs.back().partial.empty()) {
        partial = labels[i] + ": " + runs.back().partial;
      } else if (stop_signal() != 0) {
        partial = std::string("interrupted by ") + stop_signal_name(stop_signal()) +
                  " after the column " + labels[i];
      }
    }
    if (partial && runs.size() < configs.size()) {
      *partial += "; not run: " + std::to_string(configs.size() - runs.size()) + " of " +
                  std::to_string(configs.size()) + " columns";
    }
    if (json_out) {
      Provenance provenance;
      provenance.command_line = command_line(argc, argv);
      provenance.mode = vm["modes"].as<std::string>();
      provenance.trace = identify_trace(trace_path);
      // Every column reads the whole trace unless stopped: the most any column read.
      for (const ModeRun& r : runs) {
        provenance.trace.records = std::max(provenance.trace.records, r.replayed_records);
      }
      provenance.seed = configs.front()->params().seed;
      provenance.configuration = configuration_values(*configs.front());
      provenance.start_time = start_time;
      provenance.partial = partial;
      provenance.wall_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::string json = "{\n  \"provenance\": " + provenance_json(provenance) +
                         ",\n  \"trace\": " + stats::json_quote(trace_name) + ",\n  \"modes\": {";
      for (std::size_t i = 0; i < runs.size(); ++i) {
        json += (i == 0 ? "" : ", ") + stats::json_quote(runs[i].mode) + ": " + runs[i].json;
      }
      json += "}}\n";
      outputs.set_contents(*json_out, std::move(json));
      outputs.commit();
    }
    if (vm.count("quiet") == 0) {
      std::cout << format_table(trace_name, runs);
      if (partial) {
        std::cout << "  partial: " << *partial << "\n";
      }
    }
    if (partial) {
      std::cerr << "pagesim compare: " << *partial
                << (json_out ? " (--json holds the columns so far, marked partial)\n" : "\n");
      return 128 + (stop_signal() != 0 ? stop_signal() : 0);
    }
  } catch (const std::exception& e) {
    std::cerr << "pagesim compare: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace pagesim::cli
