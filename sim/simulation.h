// One simulation: elaborate the SystemC tree for a configuration, replay a trace, collect
// the statistics.
//
// SystemC 2.3 elaborates once per process (IEEE 1666 has no reset), so run_simulation()
// may be called once per process: the CLI runs one per invocation, ctest runs each SystemC
// test in its own process, and pysim (step 6) runs each simulation in a worker process.
// A second call throws std::logic_error rather than misbehave.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/stats/stats.h"
#include "base/stats/timeseries.h"
#include "sim/sim_params.h"
#include "traces/trace_reader.h"

namespace pagesim {

struct RunOptions {
  // Called every 2^20 trace records with the number replayed so far.
  std::function<void(std::uint64_t)> progress;
  // The life of the 4 KiB page holding this GVA (sim/page_life.h), printed to
  // *page_life_out as it happens (replay --trace-page).
  std::optional<std::uint64_t> trace_page;
  std::ostream* page_life_out = nullptr;
  // What a model error partway does (an error of the model or of the trace's contents,
  // not a damaged trace: traces::TraceError always throws): false, throw it; true, return
  // the statistics up to the failing record with `partial` saying why (the CLI writes them,
  // marked partial).
  bool keep_statistics_on_error = false;
};

struct RunResult {
  std::vector<stats::Row> stats;  // sorted by path
  double wall_seconds = 0;        // host time of the replay (not a statistic: not deterministic)
  // Accesses replayed, the warm-up and those outside regions of interest included (the
  // statistics count only the windows: stats/window.h).
  std::uint64_t replayed_accesses = 0;
  // Trace records replayed, accesses and events (the failing record's number when an
  // error stopped the run).
  std::uint64_t replayed_records = 0;
  // Why the statistics stop short of the trace's end, nullopt when the run was complete:
  // "interrupted by SIGINT after trace record N" (sim/stop_request.h), or the error that
  // stopped it (keep_statistics_on_error).
  std::optional<std::string> partial;
  int stop_signal = 0;               // the signal that interrupted it, 0 when none did
  std::optional<std::string> error;  // the error's message (keep_statistics_on_error)
  // Every counter each sim.interval accesses (stats/timeseries.h); empty without it.
  stats::TimeSeries timeseries;
};

RunResult run_simulation(const SimParams& params, traces::TraceReader& trace,
                         const RunOptions& options = {});

}  // namespace pagesim
