#include "validate/report.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "validate/kvm_model.h"

namespace pagesim::validate {

Tolerance tolerance_for(const std::string& counter, std::int64_t predicted) {
  if (counter == "vcpu.exits") {
    const std::int64_t t = std::max<std::int64_t>(8, predicted / 50);
    return Tolerance{t, t,
                     "exits for host interrupts (vcpu.irq_exits) are taken out; other host "
                     "events (IRQ windows, signals) remain: 8 or 2%"};
  }
  if (counter == "rusage.minflt") {
#if defined(__SANITIZE_ADDRESS__)
    // AddressSanitizer's interceptors (ioctl, madvise) fault in shadow memory on the VMM's
    // thread inside the phases.
    return Tolerance{16, 16, "a sanitizer build: ASan's shadow memory faults in too: 16"};
#else
    return Tolerance{2, 2, "the VMM's own first touches in the measured or baseline phase: 2"};
#endif
  }
  return Tolerance{0, 0, "exact: deterministic kernel path"};
}

bool ScenarioReport::pass() const {
  return std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass; });
}

const char* to_string(Predictor p) { return p == Predictor::kSimulator ? "sim" : "rules"; }

ScenarioReport compare(const Scenario& s, const std::vector<PhaseCounts>& measured,
                       const std::vector<Counters>& simulated, const std::vector<Counters>& rules) {
  ScenarioReport r{.name = s.name, .options = describe_options(s), .description = s.description};
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const PhaseCounts& m = measured[i];
    if (m.info.madvise_errno != 0) {
      r.notes.push_back(m.info.name + ": madvise failed: " + std::strerror(m.info.madvise_errno));
    }
    for (const std::string& c : predicted_counters()) {
      Row row{.phase = m.info.name, .counter = c};
      auto value = [](const Counters& x, const std::string& name) {
        auto it = x.find(name);
        return it == x.end() ? std::int64_t{0} : it->second;
      };
      // Exits for host interrupts (timer ticks, IPIs, preemption under load) are the host's,
      // not the guest's paging: KVM counts them apart in irq_exits, and they come out here.
      auto get = [&](const Counters& x) {
        return c == "vcpu.exits" ? value(x, c) - value(x, "vcpu.irq_exits") : value(x, c);
      };
      row.baseline = get(m.baseline);
      row.measured = get(m.measured) - row.baseline;
      row.rules_predicted = get(rules[i]);
      row.predicted = row.rules_predicted;
      if (i < simulated.size() && simulated[i].count(c) != 0) {
        row.predicted = get(simulated[i]);
        row.source = Predictor::kSimulator;
      }
      row.tolerance = tolerance_for(c, row.predicted);
      const std::int64_t d = row.measured - row.predicted;
      row.pass = d >= -row.tolerance.below && d <= row.tolerance.above;
      r.rows.push_back(std::move(row));
    }
  }
  return r;
}

void print_table(std::ostream& out, const ScenarioReport& r, bool all) {
  out << "scenario " << r.name << ": " << r.description << "\n  " << r.options << "\n";
  for (const std::string& n : r.notes) out << "  note: " << n << "\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-12s %-34s %10s %10s %-5s %10s  %-10s %s\n", "phase",
                "counter", "measured", "predicted", "by", "rules", "tolerance", "verdict");
  out << line;
  for (const Row& row : r.rows) {
    if (!all && row.measured == 0 && row.predicted == 0 && row.pass) continue;
    std::string tol = row.tolerance.below == 0 && row.tolerance.above == 0
                          ? "exact"
                          : "-" + std::to_string(row.tolerance.below) + "/+" +
                                std::to_string(row.tolerance.above);
    std::snprintf(line, sizeof line, "  %-12s %-34s %10lld %10lld %-5s %10lld  %-10s %s\n",
                  row.phase.c_str(), row.counter.c_str(), static_cast<long long>(row.measured),
                  static_cast<long long>(row.predicted), to_string(row.source),
                  static_cast<long long>(row.rules_predicted), tol.c_str(),
                  row.pass ? "ok" : "FAIL");
    out << line;
  }
  out << "  => " << (r.pass() ? "pass" : "FAIL") << "\n\n";
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}

void write_json(std::ostream& out, const std::string& host,
                const std::vector<ScenarioReport>& reports) {
  out << "{\n  \"host\": \"" << json_escape(host) << "\",\n  \"scenarios\": [";
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const ScenarioReport& r = reports[i];
    out << (i ? ",\n" : "\n") << "    {\"name\": \"" << json_escape(r.name) << "\", \"options\": \""
        << json_escape(r.options) << "\", \"pass\": " << (r.pass() ? "true" : "false")
        << ", \"notes\": [";
    for (std::size_t n = 0; n < r.notes.size(); ++n) {
      out << (n ? ", " : "") << "\"" << json_escape(r.notes[n]) << "\"";
    }
    out << "], \"rows\": [";
    for (std::size_t k = 0; k < r.rows.size(); ++k) {
      const Row& row = r.rows[k];
      out << (k ? ",\n" : "\n") << "      {\"phase\": \"" << json_escape(row.phase)
          << "\", \"counter\": \"" << json_escape(row.counter)
          << "\", \"measured\": " << row.measured << ", \"baseline\": " << row.baseline
          << ", \"predicted\": " << row.predicted << ", \"predicted_by\": \""
          << to_string(row.source) << "\", \"rules_predicted\": " << row.rules_predicted
          << ", \"tolerance\": {\"below\": " << row.tolerance.below
          << ", \"above\": " << row.tolerance.above << ", \"reason\": \""
          << json_escape(row.tolerance.reason) << "\"}, \"pass\": " << (row.pass ? "true" : "false")
          << "}";
    }
    out << "]}";
  }
  out << "\n  ]\n}\n";
}

}  // namespace pagesim::validate
