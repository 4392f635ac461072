#include "sim/simulation.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <systemc>
#include <tlm>

#include "base/stats/cpu_totals.h"
#include "base/stats/per_instruction.h"
#include "sim/stop_request.h"
#include "sim/top.h"

#if defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace pagesim {
namespace {
bool g_elaborated = false;

// Under AddressSanitizer: tells it that sc_main's thread is back on its own stack.
// Debian's libsystemc announces each coroutine switch to ASan (its fiber annotations),
// but names no stack (0, 0) for the switch back to the main coroutine, so after
// sc_start() ASan takes this thread's stack to end at address 0 (or at a coroutine's
// stack). An exception thrown then (a failed output write, say) makes
// __asan_handle_no_return skip unpoisoning the stack ("ASan is ignoring requested
// __asan_handle_no_return"), and a stale redzone of a frame the exception unwound is
// reported as a stack overflow in ASan's own code. Nothing to do without ASan.
void return_to_main_stack() {
#if defined(__SANITIZE_ADDRESS__)
  pthread_attr_t attr;
  void* stack = nullptr;
  std::size_t bytes = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) {
    return;
  }
  pthread_attr_getstack(&attr, &stack, &bytes);
  pthread_attr_destroy(&attr);
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, stack, bytes);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}
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
  return_to_main_stack();
  auto stop = std::chrono::steady_clock::now();
  RunResult result;
  if (top.core().failure()) {
    if (!options.keep_statistics_on_error) {
      std::rethrow_exception(top.core().failure());
    }
    try {
      std::rethrow_exception(top.core().failure());
    } catch (const traces::TraceError&) {
      throw;  // a damaged trace: nothing is written
    } catch (const std::exception& e) {
      result.error = e.what();
      result.partial = std::string("stopped by an error: ") + e.what();
    }
  } else if (const int signal = top.core().stopped_by(); signal != 0) {
    result.stop_signal = signal;
    result.partial = std::string("interrupted by ") + stop_signal_name(signal) +
                     " after trace record " + std::to_string(top.core().replayed_records());
  }
  result.stats = stats::collect(top.stats_root());
  stats::add_cpu_totals(result.stats);       // tlb.*: the sums over several CPUs
  stats::add_per_instruction(result.stats);  // pki.*: when the trace has fetches
  result.wall_seconds = std::chrono::duration<double>(stop - start).count();
  result.replayed_accesses = top.core().replayed_accesses();
  result.replayed_records = top.core().replayed_records();
  result.timeseries = std::move(top.core().timeseries());
  return result;
}

}  // namespace pagesim
