// The comparison: for each phase and predicted counter, the measured value (measured VM
// minus its baseline), the prediction, the tolerance with its reason, and the verdict; as
// a text table and as JSON.
#pragma once

#include <cstdint>
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

// The tolerance of a counter given its prediction (exact unless the counter has noise
// the guest does not cause).
Tolerance tolerance_for(const std::string& counter, std::int64_t predicted);

// Who made a row's prediction.
enum class Predictor { kSimulator, kRules };
const char* to_string(Predictor p);

struct Row {
  std::string phase;
  std::string counter;
  std::int64_t measured = 0;
  std::int64_t baseline = 0;
  std::int64_t predicted = 0;  // the simulator's where it predicts the counter, else the rules'
  Predictor source = Predictor::kRules;
  std::int64_t rules_predicted = 0;  // the kernel-rules model's, for every row
  Tolerance tolerance;
  bool pass = false;
};

struct ScenarioReport {
  std::string name;
  std::string options;
  std::string description;
  std::vector<std::string> notes;
  std::vector<Row> rows;
  bool pass() const;
};

// `simulated`: the simulator's predictions per phase (pagesim-validate gives every counter
// of every phase; a counter or phase missing falls back to `rules`, marked so); `rules`:
// the kernel-rules model's, which hold every counter.
ScenarioReport compare(const Scenario& s, const std::vector<PhaseCounts>& measured,
                       const std::vector<Counters>& simulated, const std::vector<Counters>& rules);

// Rows whose measured and predicted values are both 0 are left out unless `all`.
void print_table(std::ostream& out, const ScenarioReport& r, bool all);
void write_json(std::ostream& out, const std::string& host,
                const std::vector<ScenarioReport>& reports);
std::string json_escape(const std::string& s);

}  // namespace pagesim::validate
