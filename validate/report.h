// The comparison: for each phase and compared counter, the measured value (measured VM
// minus its baseline), the prediction, the tolerance with its reason, and the verdict: ok,
// FAIL, "not modelled: <reason>" (no predictor models it here) or "absent: <reason>" (the
// kernel does not export it); only ok is a pass. As a text table and as JSON, with a
// summary over many scenarios (--all, --sample) that groups the rows that did not pass.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "validate/kvm_stats.h"
#include "validate/machine.h"

namespace pagesim::validate {

struct Tolerance {
  std::int64_t below = 0;  // measured may be this much under the prediction
  std::int64_t above = 0;  // ... and this much over
  std::string reason;
};

// The tolerance of a counter (exact unless repeated runs showed it spread:
// docs/validation.md, "Tolerances"). `host_events`: the host's interruptions of the vCPU
// thread over the phase in the measured and the baseline VM (host_events());
// `reschedules`: the VMM thread's involuntary reschedules over a host event (madvise,
// memslot) of the measured VM (reschedules()), 0 in a guest phase.
Tolerance tolerance_for(const std::string& counter, std::int64_t host_events,
                        std::int64_t reschedules = 0);

// The tolerance of vcpu.pf_fixed, vcpu.pf_spurious and kvmmmu.kvm_mmu_set_spte in a phase
// by whose end the host's page aging reached `aged` leaves of the measured VM and
// `baseline_aged` of the baseline's (validate/host_aging.h); nullopt for other counters or
// no aging.
std::optional<Tolerance> aging_tolerance(const std::string& counter, std::int64_t aged,
                                         std::int64_t baseline_aged);
// Interrupt exits and preemptions of the vCPU thread in counters over a phase.
std::int64_t host_events(const Counters& c);
// Involuntary context switches of the VMM's thread in counters over a phase.
std::int64_t reschedules(const Counters& c);

// The counters compared, in report order: the kernel-rules model's (predicted_counters())
// and those only the simulator predicts.
const std::vector<std::string>& compared_counters();

// Counters pagesim-validate collects but does not compare, each with the reason.
struct NotCompared {
  std::string counter;  // a name, or a prefix ending in '*'
  std::string reason;
};
const std::vector<NotCompared>& not_compared_counters();

// What of this host the simulator's configuration (sim_predictor.h) takes for granted;
// where the host differs, the rows it changes are not modelled.
struct HostConditions {
  bool mmio_caching = false;            // kvm.mmio_caching
  std::string thp_enabled = "madvise";  // /sys/kernel/mm/transparent_hugepage/enabled
  std::string shmem_enabled = "never";  // .../transparent_hugepage/shmem_enabled
};

// Why the simulator does not model phase `p` of `s` on a host with `h` ("" if it does).
std::string not_modelled_reason(const Scenario& s, const PhaseInfo& p, const HostConditions& h);

// Who made a row's prediction.
enum class Predictor { kNone, kSimulator, kRules };
const char* to_string(Predictor p);

enum class Verdict { kPass, kFail, kNotModelled, kAbsent };
const char* to_string(Verdict v);  // "ok", "FAIL", "not modelled", "absent"

struct Row {
  std::string phase;
  std::string counter;
  std::optional<std::int64_t> measured;  // nullopt: the kernel does not export the counter
  std::int64_t baseline = 0;
  std::optional<std::int64_t> predicted;  // nullopt: nobody predicts it here
  Predictor source = Predictor::kNone;
  std::optional<std::int64_t> rules_predicted;  // the kernel-rules model's, where it has one
  Tolerance tolerance;
  Verdict verdict = Verdict::kFail;
  std::string reason;  // kNotModelled, kAbsent: why
  bool pass() const { return verdict == Verdict::kPass; }
  // "ok", "FAIL", "not modelled: <reason>", "absent: <reason>".
  std::string verdict_text() const;
};

// Counters measured in a phase but not compared (measured minus baseline).
struct PhaseExtra {
  std::string phase;
  Counters counters;
};

struct ScenarioReport {
  std::string name;
  std::string options;
  std::string description;
  std::vector<std::string> notes;
  std::vector<Row> rows;
  std::vector<PhaseExtra> extra;
  std::string error;  // the run stopped with this error (no rows then)
  bool pass() const;
  // "pass", "FAIL" (a row outside its tolerance, or an error), "not modelled", "absent".
  std::string status() const;
};

// `simulated`: the simulator's predictions per phase; a counter it lacks falls back to
// `rules` (the kernel-rules model's) unless `rules_not_modelled` says why the rules model
// cannot be trusted here, and is not modelled when neither has it. `host`: where this host
// differs from what the simulator assumes (not_modelled_reason).
ScenarioReport compare(const Scenario& s, const std::vector<PhaseCounts>& measured,
                       const std::vector<Counters>& simulated, const std::vector<Counters>& rules,
                       const HostConditions& host = {}, const std::string& rules_not_modelled = "");

// Rows that pass with 0 measured and 0 predicted are left out unless `all`; with
// `failing_only`, only the rows that did not pass.
void print_table(std::ostream& out, const ScenarioReport& r, bool all, bool failing_only = false);

// A run of several scenarios: how many passed, and the rows that did not, grouped by
// counter (failing rows) and by reason (not modelled, absent), then each scenario that did
// not pass with the options that rerun it alone.
void print_summary(std::ostream& out, const std::vector<ScenarioReport>& reports);

// A --sample run's parameters, for the JSON (nullopt: presets or options).
struct SampleInfo {
  std::uint64_t count = 0;
  std::uint64_t seed = 0;
};
void write_json(std::ostream& out, const std::string& host,
                const std::vector<ScenarioReport>& reports,
                const std::optional<SampleInfo>& sample = std::nullopt);
std::string json_escape(const std::string& s);

}  // namespace pagesim::validate
