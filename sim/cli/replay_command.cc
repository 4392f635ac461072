#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <utility>

#include "base/atomic_file.h"
#include "models/mem/frame_allocator.h"
#include "sim/cli/commands.h"
#include "sim/cli/summary.h"
#include "sim/provenance.h"
#include "sim/simulation.h"
#include "sim/stop_request.h"
#include "traces/trace_reader.h"

namespace pagesim::cli {

namespace po = boost::program_options;

int run_replay(int argc, char** argv) {
  po::options_description desc(
      "Usage: pagesim replay TRACE [options]\n\n"
      "Replays TRACE (a text or binary trace, an imported one such as a ChampSim\n"
      "*.champsimtrace.xz or a .csv, SOURCE:PATH, or gen:PATTERN:key=value,... for a\n"
      "generated one; 'pagesim trace --help' lists the sources, docs/trace-format.md has\n"
      "them all) through the configured translation hardware and prints a summary.\n"
      "Output files are written all of them or none, each through a temporary file\n"
      "renamed over it (a link is followed to its target); a device, FIFO or /dev/stdout\n"
      "is written in place. Two outputs naming one file are refused. Each begins with\n"
      "its provenance (version, command, trace, configuration; docs/outputs.md), which\n"
      "--config OUT.json reads back. Ctrl-C (SIGINT), SIGTERM or an error partway stops\n"
      "the run and writes the statistics so far, marked partial (exit status 128 + the\n"
      "signal, or 1); a damaged trace writes nothing.\n\nOptions");
  desc.add_options()("help,h", "show this help")(
      "json", po::value<std::string>()->value_name("OUT"),
      "write every statistic as one JSON object: \"provenance\" first, then each statistic "
      "by path (histograms as {bucket: count})")("csv", po::value<std::string>()->value_name("OUT"),
                                                 "write every statistic as CSV rows")(
      "save-config", po::value<std::string>()->value_name("OUT"),
      "write the effective configuration (TOML) next to the statistics")("quiet,q",
                                                                         "print no summary")(
      "progress", po::value<std::string>()->default_value("auto")->value_name("WHEN"),
      "progress line on stderr: auto (when stderr is a terminal), always, never")(
      "check",
      "compare every translation the TLBs and walker caches return with a walk from scratch "
      "of the current tables; a mismatch stops the run naming the record, both answers and "
      "the stale structure (sets sim.check; slow)")(
      "warmup", po::value<std::string>()->value_name("N"),
      "replay the first N accesses with every structure live, then start counting: "
      "steady-state statistics (sets sim.warmup; the trace's !roi begin/end regions after it "
      "count, when it has any)")(
      "interval", po::value<std::string>()->value_name("N"),
      "a time series: every counter's delta each N accesses (at least 1000; the warm-up "
      "included), as \"timeseries\" in --json and as rows in --timeseries (sets "
      "sim.interval)")(
      "timeseries", po::value<std::string>()->value_name("OUT"),
      "write the time series as CSV: accesses, then one column per counter, one row per "
      "interval (needs --interval)")(
      "trace-page", po::value<std::string>()->value_name("ADDRESS"),
      "print the life of the 4 KiB guest-virtual page holding ADDRESS (hex with 0x, or "
      "decimal) as it happens: TLB misses, guest page faults, EPT violations, host faults, "
      "EPT installs, TLB fills, invalidations");
  add_config_options(desc);
  po::variables_map vm;
  if (const auto status = parse_trace_command("replay", desc, argc, argv, vm)) {
    return *status;
  }
  std::string progress_mode = vm["progress"].as<std::string>();
  if (progress_mode != "auto" && progress_mode != "always" && progress_mode != "never") {
    std::cerr << "pagesim replay: --progress: '" << progress_mode
              << "' is not one of: auto, always, never\n";
    return kExitUsage;
  }

  std::optional<std::uint64_t> trace_page;
  if (vm.count("trace-page") != 0) {
    const std::string text = vm["trace-page"].as<std::string>();
    try {
      std::size_t used = 0;
      trace_page = std::stoull(text, &used, 0);
      if (used != text.size()) {
        throw std::invalid_argument("trailing characters");
      }
    } catch (const std::exception&) {
      std::cerr << "pagesim replay: --trace-page: '" << text
                << "' is not an address (hex with 0x, or decimal)\n";
      return kExitUsage;
    }
  }

  Configuration c;
  try {
    load_configuration(c, vm);
    if (vm.count("check") != 0) {
      c.set("sim.check", "true", "--check");
    }
    if (vm.count("warmup") != 0) {
      c.set("sim.warmup", vm["warmup"].as<std::string>(), "--warmup");
    }
    if (vm.count("interval") != 0) {
      c.set("sim.interval", vm["interval"].as<std::string>(), "--interval");
    }
    c.validate();
    if (vm.count("timeseries") != 0 && c.params().sim.interval == 0) {
      throw config::ConfigError(
          "--timeseries: no time series without --interval N "
          "(or sim.interval)");
    }
  } catch (const config::ConfigError& e) {
    std::cerr << "pagesim replay: configuration error:\n" << e.what() << "\n";
    return kExitUsage;
  }

  // The output files are checked now, so a bad one fails before a long run, and written
  // together at the end: all of them or none (base/atomic_file.h).
  OutputSet outputs;
  std::optional<std::size_t> json_out, csv_out, config_out, timeseries_out;
  try {
    for (auto [key, index] :
         {std::pair{"json", &json_out}, std::pair{"csv", &csv_out},
          std::pair{"save-config", &config_out}, std::pair{"timeseries", &timeseries_out}}) {
      if (vm.count(key) != 0) {
        *index = outputs.add(std::string("--") + key, vm[key].as<std::string>());
      }
    }
  } catch (const SameOutputError& e) {
    std::cerr << "pagesim replay: " << e.what() << "\n";
    return kExitUsage;
  } catch (const OutputError& e) {
    std::cerr << "pagesim replay: " << e.what() << "\n";
    return kExitFailure;
  }
  const std::string start_time = utc_now();
  const auto started = std::chrono::steady_clock::now();
  try {
    std::string trace_path = vm["trace"].as<std::string>();
    auto trace = traces::open_trace(trace_path);

    RunOptions options;
    options.trace_page = trace_page;
    options.keep_statistics_on_error = true;  // a model error partway: a partial output
    bool show_progress =
        progress_mode == "always" || (progress_mode == "auto" && ::isatty(STDERR_FILENO));
    if (show_progress) {
      // Binary traces and generators know their length: then the share done too.
      const std::optional<std::uint64_t> total = trace->record_count();
      // Every 2^20 records: count, rate, elapsed time and, when the total is known, the
      // share done and the time left at the rate so far.
      options.progress = [total, started](std::uint64_t done) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double rate = elapsed > 0 ? double(done) / elapsed : 0;
        if (total && *total > 0) {
          const double left = rate > 0 ? double(*total - std::min(done, *total)) / rate : 0;
          std::fprintf(stderr,
                       "\rpagesim: %.1f of %.1f M records (%.0f %%), %.2f M/s, %.0f s, "
                       "about %.0f s left ",
                       double(done) / 1e6, double(*total) / 1e6,
                       100.0 * double(done) / double(*total), rate / 1e6, elapsed, left);
        } else {
          std::fprintf(stderr, "\rpagesim: %.1f M records, %.2f M/s, %.0f s ", double(done) / 1e6,
                       rate / 1e6, elapsed);
        }
        std::fflush(stderr);
      };
    }
    install_stop_handlers();  // Ctrl-C: the statistics so far, marked partial
    RunResult result = run_simulation(c.params(), *trace, options);
    if (show_progress) {
      std::fprintf(stderr, "\r%79s\r", "");
    }
    Provenance provenance;
    provenance.command_line = command_line(argc, argv);
    provenance.mode = std::string(config::enum_name(c.params().mode));
    provenance.trace = identify_trace(trace_path);
    provenance.trace.records = result.replayed_records;
    provenance.seed = c.params().seed;
    provenance.configuration = configuration_values(c);
    provenance.start_time = start_time;
    provenance.partial = result.partial;
    provenance.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (json_out) {
      std::vector<stats::JsonMember> head{{"provenance", provenance_json(provenance)}};
      if (!result.timeseries.empty()) {
        head.emplace_back("timeseries", result.timeseries.to_json());
      }
      outputs.set_contents(*json_out, stats::to_json(result.stats, head));
    }
    if (timeseries_out) {
      outputs.set_contents(*timeseries_out, result.timeseries.to_csv());
    }
    if (csv_out) {
      outputs.set_contents(*csv_out, stats::to_csv(result.stats, provenance_csv_rows(provenance)));
    }
    if (config_out) {
      outputs.set_contents(*config_out, c.dump());
    }
    outputs.commit();
    if (vm.count("quiet") == 0) {
      rusage usage{};
      ::getrusage(RUSAGE_SELF, &usage);
      HostFigures host{result.wall_seconds, std::uint64_t(usage.ru_maxrss) * 1024,
                       result.replayed_accesses};
      std::cout << format_summary(result.stats, trace->describe(),
                                  std::string(config::enum_name(c.params().mode)), host);
      if (result.partial) {
        std::cout << "  partial: " << *result.partial << "\n";
      }
    }
    if (result.partial) {
      const std::string kept = outputs.empty()
                                   ? std::string()
                                   : " (the outputs hold the statistics so far, marked partial)";
      if (result.error) {
        std::cerr << "pagesim replay: " << *result.error << kept << "\n";
        return kExitFailure;
      }
      std::cerr << "pagesim replay: " << *result.partial << kept << "\n";
      return 128 + result.stop_signal;
    }
  } catch (const std::exception& e) {
    std::cerr << "pagesim replay: " << e.what() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace pagesim::cli
