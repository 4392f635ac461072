// One scenario on one VM: the host memory, the memslots (slot 0 low memory, the hole, slot
// 1 tables and command list, slot 2 data), the guest's page tables (one CR3, or two with
// --two-cr3), and the phases: a warm-up that faults in everything the VMM's own code needs,
// then the scenario's passes and events, each measured as the difference of the counters
// before and after it.
//
// The baseline is a second, identical VM (run after the measured one) replaying every
// phase neutralized (CommandList::neutralized; host events skipped): what the VMM costs by
// itself (the emulated CPL 0 handler, the phase's exit to the VMM) is its count, and
// subtracted from the measured one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "validate/guest_page_tables.h"
#include "validate/kvm_stats.h"
#include "validate/perf_counters.h"
#include "validate/scenario.h"
#include "validate/vmm.h"

namespace pagesim::validate {

// What a phase does, for the predictors.
struct PhaseInfo {
  enum class Kind { kPass, kMadvise, kMemslotReadd, kPteRewrite, kCr3Switch, kHole };
  Kind kind;
  std::string name;
  int pass = 0;  // kPass: 1-based
  int cr3 = 0;   // kPass, kCr3Switch: which tree (0 = first CR3, 1 = second)
  ReclaimAction madvise{};
  int madvise_errno = 0;  // set by the run: madvise's error (0 = done)
};

// The phases of a scenario, in order (the same for the measured run, the baseline and the
// predictors).
std::vector<PhaseInfo> phases_of(const Scenario& s);

struct PhaseCounts {
  PhaseInfo info;
  Counters measured;  // counters of the measured VM over the phase
  Counters baseline;  // the baseline VM's over its neutralized phase
};

// Runs the scenario (measured VM, then the baseline VM). `perf` counts this thread.
std::vector<PhaseCounts> run_scenario(const Scenario& s, const PerfCounters& perf);

// Counters from getrusage(RUSAGE_THREAD): rusage.minflt, rusage.majflt.
Counters rusage_counters();

}  // namespace pagesim::validate
