#include "validate/report.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "validate/kvm_model.h"
#include "validate/sim_predictor.h"

namespace pagesim::validate {

Tolerance tolerance_for(const std::string& counter, std::int64_t host_events,
                        std::int64_t reschedules) {
  if (counter == "vcpu.exits") {
    // Repeated runs differ by one exit per host interruption (docs/validation.md), and by
    // nothing without one.
    const std::int64_t t = host_events;
    return Tolerance{
        t, t,
        "one exit per host interruption of the vCPU thread (" + std::to_string(host_events) + ")"};
  }
  if (counter == "vm.remote_tlb_flush_requests" && reschedules > 0) {
    return Tolerance{0, reschedules,
                     "one more flush per involuntary reschedule of the VMM's thread in a host "
                     "event (KVM flushes before it yields the MMU lock in a long zap): " +
                         std::to_string(reschedules)};
  }
#if defined(__SANITIZE_ADDRESS__)
  if (counter == "rusage.minflt") {
    // AddressSanitizer's interceptors (ioctl, madvise) fault in shadow memory on the VMM's
    // thread inside the phases.
    return Tolerance{16, 16, "a sanitizer build: ASan's shadow memory faults in too: 16"};
  }
#endif
  return Tolerance{0, 0, "exact: no spread in repeated runs"};
}

std::optional<Tolerance> aging_tolerance(const std::string& counter, std::int64_t aged,
                                         std::int64_t baseline_aged) {
  if (aged + baseline_aged == 0) return std::nullopt;
  const std::string why =
      "the host's page aging: " + std::to_string(aged) + " leaves aged by the phase's end (" +
      std::to_string(baseline_aged) +
      " in the baseline); a fault rewriting an aged leaf is fixed, not spurious";
  // The measured VM's aging adds fixed faults (and set_spte) and takes spurious ones; the
  // baseline's, subtracted, does the opposite.
  if (counter == "vcpu.pf_fixed" || counter == "kvmmmu.kvm_mmu_set_spte") {
    return Tolerance{baseline_aged, aged, why};
  }
  if (counter == "vcpu.pf_spurious") return Tolerance{aged, baseline_aged, why};
  return std::nullopt;
}

namespace {

// A phase with aging: its pf_fixed, pf_spurious and kvm_mmu_set_spte rows (from `first`)
// pass only as a pair (validate/host_aging.h).
void pair_aging_rows(std::vector<Row>& rows, std::size_t first) {
  Row* fixed = nullptr;
  Row* spurious = nullptr;
  Row* set_spte = nullptr;
  for (std::size_t i = first; i < rows.size(); ++i) {
    if (rows[i].counter == "vcpu.pf_fixed") fixed = &rows[i];
    if (rows[i].counter == "vcpu.pf_spurious") spurious = &rows[i];
    if (rows[i].counter == "kvmmmu.kvm_mmu_set_spte") set_spte = &rows[i];
  }
  auto judged = [](const Row* r) {
    return r && r->measured && r->predicted &&
           (r->verdict == Verdict::kPass || r->verdict == Verdict::kFail);
  };
  if (!judged(fixed) || !judged(spurious)) return;
  auto d = [](const Row* r) { return *r->measured - *r->predicted; };
  // Aging changes which kind a fault is, never how many faults there are.
  const bool paired = d(fixed) == -d(spurious) && (!judged(set_spte) || d(set_spte) == d(fixed));
  if (paired) return;
  for (Row* r : {fixed, spurious, set_spte}) {
    if (!judged(r) || d(r) == 0) continue;
    r->verdict = Verdict::kFail;
    r->reason =
        "aging turns a spurious fault into a fixed one (one more kvm_mmu_set_spte): the "
        "differences of pf_fixed, pf_spurious and kvm_mmu_set_spte must be x, -x and x";
  }
}

}  // namespace

std::int64_t reschedules(const Counters& c) {
  const auto it = c.find("rusage.nivcsw");
  return it == c.end() ? 0 : std::max<std::int64_t>(0, it->second);
}

std::int64_t host_events(const Counters& c) {
  std::int64_t n = 0;
  for (const char* k : {"vcpu.irq_exits", "vcpu.preemption_other", "vcpu.preemption_reported"}) {
    const auto it = c.find(k);
    if (it != c.end()) n += std::max<std::int64_t>(0, it->second);
  }
  return n;
}

const std::vector<std::string>& compared_counters() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v = predicted_counters();
    for (const std::string& c : simulated_counters()) {
      if (std::find(v.begin(), v.end(), c) == v.end()) v.push_back(c);
    }
    return v;
  }();
  return names;
}

const std::vector<NotCompared>& not_compared_counters() {
  static const std::vector<NotCompared> list = {
      {"vcpu.tlb_flush",
       "flushes the vCPU made at entry: the requests pending since its previous entry are done "
       "once (and a host event's request in the next guest phase); the simulator counts the "
       "requests (vm.remote_tlb_flush_requests, compared), not entries"},
      {"vm.remote_tlb_flush",
       "requests that had to interrupt another CPU: one vCPU, requested on its own thread, none "
       "(0 in every run); the simulator does not model IPIs"},
      {"kvmmmu.kvm_mmu_set_accessed_bit, kvmmmu.kvm_mmu_set_dirty_bit",
       "the simulator sets the guest's A/D bits (FNAME(update_accessed_dirty_bits)) but counts "
       "none; every entry the VMM writes has A and D set, so KVM sets none (0 in every run)"},
      {"kvmmmu.mark_mmio_spte, kvmmmu.handle_mmio_page_fault, vcpu.pf_mmio_spte_created",
       "MMIO SPTEs, not modelled; with kvm.mmio_caching=N KVM makes none (a host with "
       "mmio_caching=Y gets 'not modelled' for the hole's rows)"},
      {"vcpu.pf_fast",
       "fast_page_fault, not modelled in shadow mode: no scenario leaves a leaf it could fix "
       "(no dirty logging, no access tracking)"},
      {"vm.mmu_pde_zapped",
       "no simulator statistic; no scenario writes an upper-level guest entry"},
      {"vm.pages_1g", "the guest maps no 1 GiB page"},
      {"vm.nx_lpage_splits",
       "the NX huge-page mitigation (kvm.nx_huge_pages) splits pages the guest executes from; "
       "the guest runs from 4 KiB pages"},
      {"vm.max_mmu_page_hash_collisions, vm.max_mmu_rmap_size", "maxima, not counts"},
      {"perf.page_faults",
       "the VMM thread's own faults (GUP's faults for the guest are not this event's; "
       "rusage.minflt, compared, has them): 0 after the baseline"},
      {"vcpu.irq_exits, vcpu.preemption_*, vcpu.req_event",
       "the host's interrupts and scheduling: irq_exits are taken out of vcpu.exits, and they "
       "and the preemptions set its tolerance"},
      {"rusage.nivcsw",
       "the VMM thread's involuntary reschedules: in a host event they set the tolerance of "
       "vm.remote_tlb_flush_requests"},
      {"vcpu.* and vm.* others",
       "the VMM's own control flow, the same in the baseline (I/O exits end a phase, FPU "
       "reloads at exits to the VMM, halts, injections, hypercalls): not the guest's paging"},
  };
  return list;
}

std::string not_modelled_reason(const Scenario& s, const PhaseInfo& p, const HostConditions& h) {
  if (h.thp_enabled == "always") {
    return "transparent_hugepage/enabled=always backs the VMM's memory with huge pages without "
           "MADV_HUGEPAGE; the simulator's host.thp follows --host-thp alone";
  }
  if (h.thp_enabled == "never" && s.host_thp && s.backing == HostMemory::Kind::kAnon) {
    return "transparent_hugepage/enabled=never: no huge pages for --host-thp on; the "
           "simulator's host.thp=2m assumes them";
  }
  if (s.backing == HostMemory::Kind::kMemfd &&
      (h.shmem_enabled == "always" || h.shmem_enabled == "within_size" ||
       h.shmem_enabled == "force" || (h.shmem_enabled == "advise" && s.host_thp))) {
    return "shmem huge pages (transparent_hugepage/shmem_enabled=" + h.shmem_enabled +
           "): the simulator maps a memfd with 4 KiB pages";
  }
  if (h.mmio_caching && p.kind == PhaseInfo::Kind::kHole) {
    return "KVM's MMIO SPTEs (kvm.mmio_caching=Y): the simulator walks and exits for every "
           "access to the hole";
  }
  return "";
}

bool ScenarioReport::pass() const {
  return error.empty() &&
         std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.pass(); });
}

std::string ScenarioReport::status() const {
  if (!error.empty()) return "FAIL";
  bool not_modelled = false, absent = false;
  for (const Row& r : rows) {
    if (r.verdict == Verdict::kFail) return "FAIL";
    not_modelled |= r.verdict == Verdict::kNotModelled;
    absent |= r.verdict == Verdict::kAbsent;
  }
  return not_modelled ? "not modelled" : absent ? "absent" : "pass";
}

const char* to_string(Predictor p) {
  switch (p) {
    case Predictor::kSimulator:
      return "sim";
    case Predictor::kRules:
      return "rules";
    case Predictor::kNone:
      break;
  }
  return "-";
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "ok";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kNotModelled:
      return "not modelled";
    case Verdict::kAbsent:
      return "absent";
  }
  return "?";
}

std::string Row::verdict_text() const {
  std::string t = to_string(verdict);
  if (!reason.empty()) t += ": " + reason;
  return t;
}

ScenarioReport compare(const Scenario& s, const std::vector<PhaseCounts>& measured,
                       const std::vector<Counters>& simulated, const std::vector<Counters>& rules,
                       const HostConditions& host, const std::string& rules_not_modelled) {
  ScenarioReport r{.name = s.name, .options = describe_options(s), .description = s.description};
  const auto& compared = compared_counters();
  for (std::size_t i = 0; i < measured.size(); ++i) {
    const PhaseCounts& m = measured[i];
    if (m.info.madvise_errno != 0) {
      r.notes.push_back(m.info.name + ": madvise failed: " + std::strerror(m.info.madvise_errno));
    }
    const std::string host_reason = not_modelled_reason(s, m.info, host);
    // Leaves the host's page aging may have touched (validate/host_aging.h): one per
    // notification, 512 where a notification can cover a huge host page.
    const std::int64_t per_notification = s.host_thp ? 512 : 1;
    const std::int64_t aged = m.aged.value_or(0) * per_notification;
    const std::int64_t baseline_aged = m.baseline_aged.value_or(0) * per_notification;
    if (!m.aging_unavailable.empty() && i == 0) {
      r.notes.push_back("host page aging not counted: " + m.aging_unavailable +
                        "; vcpu.pf_fixed and pf_spurious stay exact");
    }
    const std::size_t first_row = r.rows.size();
    // The host's own events (madvise, memslot), where KVM walks long rmaps on this thread.
    const bool host_phase =
        m.info.kind == PhaseInfo::Kind::kMadvise || m.info.kind == PhaseInfo::Kind::kMemslotReadd;
    // Exits for host interrupts (timer ticks, IPIs, preemption under load) are the host's,
    // not the guest's paging: KVM counts them apart in irq_exits, and they come out here.
    auto get = [](const Counters& x, const std::string& c) -> std::optional<std::int64_t> {
      const auto it = x.find(c);
      if (it == x.end()) return std::nullopt;
      if (c != "vcpu.exits") return it->second;
      const auto irq = x.find("vcpu.irq_exits");
      return it->second - (irq == x.end() ? 0 : irq->second);
    };
    for (const std::string& c : compared) {
      Row row{.phase = m.info.name, .counter = c};
      const auto mv = get(m.measured, c), bv = get(m.baseline, c);
      if (mv && bv) {
        row.baseline = *bv;
        row.measured = *mv - *bv;
      }
      if (i < rules.size()) row.rules_predicted = get(rules[i], c);
      if (i < simulated.size()) {
        if (const auto v = get(simulated[i], c)) {
          row.predicted = v;
          row.source = Predictor::kSimulator;
        }
      }
      if (!row.predicted && row.rules_predicted && rules_not_modelled.empty()) {
        row.predicted = row.rules_predicted;
        row.source = Predictor::kRules;
      }
      row.tolerance = tolerance_for(c, host_events(m.measured) + host_events(m.baseline),
                                    host_phase ? reschedules(m.measured) : 0);
      if (const auto t = aging_tolerance(c, aged, baseline_aged)) row.tolerance = *t;
      if (!row.measured) {
        row.verdict = Verdict::kAbsent;
        row.reason = "this kernel does not export " + c;
      } else if (!row.predicted) {
        row.verdict = Verdict::kNotModelled;
        row.reason = !rules_not_modelled.empty() && row.rules_predicted
                         ? rules_not_modelled
                         : "no predictor gives " + c + " for this phase";
      } else if (row.source == Predictor::kSimulator && !host_reason.empty()) {
        row.verdict = Verdict::kNotModelled;
        row.reason = host_reason;
      } else {
        const std::int64_t d = *row.measured - *row.predicted;
        row.verdict =
            d >= -row.tolerance.below && d <= row.tolerance.above ? Verdict::kPass : Verdict::kFail;
      }
      r.rows.push_back(std::move(row));
    }
    if (aged + baseline_aged > 0) pair_aging_rows(r.rows, first_row);
    // What else was measured, for the record (not_compared_counters() says why).
    PhaseExtra extra{.phase = m.info.name, .counters = {}};
    for (const auto& [k, v] : m.measured) {
      if (std::find(compared.begin(), compared.end(), k) != compared.end()) continue;
      const auto b = m.baseline.find(k);
      extra.counters[k] = v - (b == m.baseline.end() ? 0 : b->second);
    }
    r.extra.push_back(std::move(extra));
  }
  return r;
}

namespace {

std::string value_text(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string("-");
}

std::string tolerance_text(const Tolerance& t) {
  return t.below == 0 && t.above == 0
             ? "exact"
             : "-" + std::to_string(t.below) + "/+" + std::to_string(t.above);
}

}  // namespace

void print_table(std::ostream& out, const ScenarioReport& r, bool all, bool failing_only) {
  out << "scenario " << r.name << ": " << r.description << "\n  " << r.options << "\n";
  for (const std::string& n : r.notes) out << "  note: " << n << "\n";
  if (!r.error.empty()) {
    out << "  error: " << r.error << "\n  => FAIL\n\n";
    return;
  }
  char line[512];
  std::snprintf(line, sizeof line, "  %-16s %-34s %10s %10s %-5s %10s  %-10s %s\n", "phase",
                "counter", "measured", "predicted", "by", "rules", "tolerance", "verdict");
  out << line;
  for (const Row& row : r.rows) {
    if (failing_only && row.pass()) continue;
    if (!all && row.pass() && row.measured == 0 && row.predicted == 0) continue;
    std::snprintf(line, sizeof line, "  %-16s %-34s %10s %10s %-5s %10s  %-10s %s\n",
                  row.phase.c_str(), row.counter.c_str(), value_text(row.measured).c_str(),
                  value_text(row.predicted).c_str(), to_string(row.source),
                  value_text(row.rules_predicted).c_str(), tolerance_text(row.tolerance).c_str(),
                  row.verdict_text().c_str());
    out << line;
  }
  out << "  => " << r.status() << "\n\n";
}

void print_summary(std::ostream& out, const std::vector<ScenarioReport>& reports) {
  std::size_t passed = 0, rows = 0, failing = 0, not_modelled = 0, absent = 0, errors = 0;
  // counter -> rows that failed; reason -> rows not modelled or absent.
  std::map<std::string, std::vector<std::pair<const ScenarioReport*, const Row*>>> by_counter,
      by_reason;
  for (const ScenarioReport& r : reports) {
    rows += r.rows.size();
    if (r.pass()) ++passed;
    const std::string st = r.status();
    if (!r.error.empty()) {
      ++errors;
    } else if (st == "FAIL") {
      ++failing;
    } else if (st == "not modelled") {
      ++not_modelled;
    } else if (st == "absent") {
      ++absent;
    }
    for (const Row& row : r.rows) {
      if (row.verdict == Verdict::kFail) {
        by_counter[row.counter].push_back({&r, &row});
      } else if (!row.pass()) {
        by_reason[std::string(to_string(row.verdict)) + ": " + row.reason].push_back({&r, &row});
      }
    }
  }
  out << "summary: " << reports.size() << " scenarios, " << passed << " passed, "
      << reports.size() - passed << " not passed (" << failing << " with rows outside tolerance, "
      << errors << " stopped by an error, " << not_modelled << " with rows not modelled, " << absent
      << " with counters absent); " << rows << " rows\n";
  auto count = [](std::size_t n, const std::string& what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  auto scenarios_in = [](const auto& list) {
    std::set<const ScenarioReport*> s;
    for (const auto& [r, row] : list) s.insert(r);
    return s.size();
  };
  if (!by_counter.empty()) out << "failing rows by counter:\n";
  for (const auto& [counter, list] : by_counter) {
    out << "  " << counter << ": " << count(list.size(), "row") << " in "
        << count(scenarios_in(list), "scenario") << "\n";
    for (const auto& [r, row] : list) {
      out << "    " << r->name << " " << row->phase << ": measured " << value_text(row->measured)
          << ", predicted " << value_text(row->predicted) << " (" << to_string(row->source)
          << "), tolerance " << tolerance_text(row->tolerance) << "\n";
    }
  }
  for (const auto& [reason, list] : by_reason) {
    out << reason << ": " << count(list.size(), "row") << " in "
        << count(scenarios_in(list), "scenario") << "\n";
  }
  bool header = false;
  for (const ScenarioReport& r : reports) {
    if (r.pass()) continue;
    if (!header) out << "not passed (each reruns alone):\n";
    header = true;
    out << "  " << r.name << " (" << r.status() << (r.error.empty() ? "" : ": " + r.error)
        << "): pagesim-validate " << r.options << "\n";
  }
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
                const std::vector<ScenarioReport>& reports,
                const std::optional<SampleInfo>& sample) {
  auto opt = [](const std::optional<std::int64_t>& v) {
    return v ? std::to_string(*v) : std::string("null");
  };
  out << "{\n  \"host\": \"" << json_escape(host) << "\",\n  \"sample\": ";
  if (sample) {
    out << "{\"count\": " << sample->count << ", \"seed\": " << sample->seed << "}";
  } else {
    out << "null";
  }
  std::size_t passed = 0;
  for (const ScenarioReport& r : reports) passed += r.pass() ? 1 : 0;
  out << ",\n  \"summary\": {\"scenarios\": " << reports.size() << ", \"passed\": " << passed
      << "},\n  \"not_compared\": [";
  const auto& nc = not_compared_counters();
  for (std::size_t i = 0; i < nc.size(); ++i) {
    out << (i ? ",\n" : "\n") << "    {\"counter\": \"" << json_escape(nc[i].counter)
        << "\", \"reason\": \"" << json_escape(nc[i].reason) << "\"}";
  }
  out << "\n  ],\n  \"scenarios\": [";
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const ScenarioReport& r = reports[i];
    out << (i ? ",\n" : "\n") << "    {\"name\": \"" << json_escape(r.name) << "\", \"options\": \""
        << json_escape(r.options) << "\", \"pass\": " << (r.pass() ? "true" : "false")
        << ", \"status\": \"" << json_escape(r.status()) << "\", \"error\": ";
    if (r.error.empty()) {
      out << "null";
    } else {
      out << "\"" << json_escape(r.error) << "\"";
    }
    out << ", \"notes\": [";
    for (std::size_t n = 0; n < r.notes.size(); ++n) {
      out << (n ? ", " : "") << "\"" << json_escape(r.notes[n]) << "\"";
    }
    out << "], \"rows\": [";
    for (std::size_t k = 0; k < r.rows.size(); ++k) {
      const Row& row = r.rows[k];
      out << (k ? ",\n" : "\n") << "      {\"phase\": \"" << json_escape(row.phase)
          << "\", \"counter\": \"" << json_escape(row.counter)
          << "\", \"measured\": " << opt(row.measured) << ", \"baseline\": " << row.baseline
          << ", \"predicted\": " << opt(row.predicted) << ", \"predicted_by\": \""
          << to_string(row.source) << "\", \"rules_predicted\": " << opt(row.rules_predicted)
          << ", \"tolerance\": {\"below\": " << row.tolerance.below
          << ", \"above\": " << row.tolerance.above << ", \"reason\": \""
          << json_escape(row.tolerance.reason) << "\"}, \"verdict\": \"" << to_string(row.verdict)
          << "\", \"reason\": \"" << json_escape(row.reason)
          << "\", \"pass\": " << (row.pass() ? "true" : "false") << "}";
    }
    out << "], \"not_compared\": [";
    for (std::size_t k = 0; k < r.extra.size(); ++k) {
      out << (k ? ",\n" : "\n") << "      {\"phase\": \"" << json_escape(r.extra[k].phase)
          << "\", \"counters\": {";
      bool first = true;
      for (const auto& [name, v] : r.extra[k].counters) {
        out << (first ? "" : ", ") << "\"" << json_escape(name) << "\": " << v;
        first = false;
      }
      out << "}}";
    }
    out << "]}";
  }
  out << "\n  ]\n}\n";
}

}  // namespace pagesim::validate
