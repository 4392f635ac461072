#include "sim/simulation.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <systemc>
#include <tlm>

#include "sim/top.h"

namespace pagesim {
namespace {
bool g_elaborated = false;
}  // namespace

RunResult run_simulation(const SimParams& params, traces::TraceReader& trace,
                         const RunOptions& options) {
  if (g_elaborated) {
    throw std::logic_error(
        "run_simulation: SystemC elaborates once per process; run each simulation in its own "
        "process");
  }
  g_elaborated = true;
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_set_time_resolution(1, sc_core::SC_FS);
  tlm::tlm_global_quantum::instance().set(
      CycleClock(params.core.frequency_ghz).to_time(params.sim.quantum));

  std::unique_ptr<PageLife> page_life;
  if (options.trace_page) {
    page_life = std::make_unique<PageLife>(
        Gva(*options.trace_page),
        options.page_life_out != nullptr ? *options.page_life_out : std::cout);
  }
  Top top("top", params, trace, options.progress, page_life.get());
  auto start = std::chrono::steady_clock::now();
  sc_core::sc_start();
  auto stop = std::chrono::steady_clock::now();
  if (top.core().failure()) {
    std::rethrow_exception(top.core().failure());
  }
  RunResult result;
  result.stats = stats::collect(top.stats_root());
  result.wall_seconds = std::chrono::duration<double>(stop - start).count();
  result.replayed_accesses = top.core().replayed_accesses();
  return result;
}

}  // namespace pagesim
