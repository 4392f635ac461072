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

#include "sim/sim_params.h"
#include "sim/stats/stats.h"
#include "traces/trace_reader.h"

namespace pagesim {

struct RunOptions {
  // Called every 2^20 trace records with the number replayed so far.
  std::function<void(std::uint64_t)> progress;
  // The life of the 4 KiB page holding this GVA (sim/page_life.h), printed to
  // *page_life_out as it happens (replay --trace-page).
  std::optional<std::uint64_t> trace_page;
  std::ostream* page_life_out = nullptr;
};

struct RunResult {
  std::vector<stats::Row> stats;  // sorted by path
  double wall_seconds = 0;        // host time of the replay (not a statistic: not deterministic)
  // Accesses replayed, the warm-up and those outside regions of interest included (the
  // statistics count only the windows: stats/window.h).
  std::uint64_t replayed_accesses = 0;
};

RunResult run_simulation(const SimParams& params, traces::TraceReader& trace,
                         const RunOptions& options = {});

}  // namespace pagesim
