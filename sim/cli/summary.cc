#include "sim/cli/summary.h"

#include <cstdio>
#include <map>

namespace pagesim::cli {
namespace {

class Lookup {
 public:
  explicit Lookup(const std::vector<stats::Row>& rows) {
    for (const auto& r : rows) {
      if (const auto* n = std::get_if<std::uint64_t>(&r.value)) {
        m_values[r.path] = static_cast<double>(*n);
      } else if (const auto* d = std::get_if<double>(&r.value)) {
        m_values[r.path] = *d;
      }
    }
  }
  bool has(const std::string& path) const { return m_values.count(path) != 0; }
  double operator[](const std::string& path) const {
    auto it = m_values.find(path);
    return it == m_values.end() ? 0.0 : it->second;
  }

 private:
  std::map<std::string, double> m_values;
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pct(double part, double whole) {
  return whole == 0 ? "-" : fixed(100.0 * part / whole, 2) + " %";
}

std::string line(const std::string& label, const std::string& value, const std::string& note = "") {
  char buf[256];
  std::snprintf(buf, sizeof buf, "  %-28s %16s", label.c_str(), value.c_str());
  std::string out = buf;
  if (!note.empty()) {
    out += "   " + note;
  }
  return out + "\n";
}

// One machine's part: its TLBs, walks, faults and exits. `p`: the prefix of its statistics
// ("" for one machine, "vm<i>." for each of several VMs).
std::string machine_summary(const Lookup& s, const std::string& p) {
  std::string out;
  out += "  TLB                           lookups       hits     misses   miss rate\n";
  for (const char* level : {"l1d", "l1i", "l2"}) {
    const std::string t = p + "tlb." + level;
    double hits = s[t + ".hits"];
    double misses = s[t + ".misses"];
    char buf[160];
    std::snprintf(buf, sizeof buf, "    %-20s %16s %10s %10s %11s\n", level,
                  grouped(hits + misses).c_str(), grouped(hits).c_str(), grouped(misses).c_str(),
                  pct(misses, hits + misses).c_str());
    out += buf;
  }
  double walks = s[p + "walker.walks"];
  out += line("page walks", grouped(walks),
              walks == 0 ? ""
                         : fixed(s[p + "walker.refs"] / walks, 2) + " refs, " +
                               fixed(s[p + "walker.cycles"] / walks, 1) + " cycles per walk");
  out += line("page-table references", grouped(s[p + "walker.refs"]));
  out += line("walk cycles", grouped(s[p + "walker.cycles"]));
  std::string pwc;
  for (const char* c : {"pml5", "pml4", "pdpt", "pd"}) {
    const std::string w = p + "walker.pwc." + c;
    if (s.has(w + ".hits") && s[w + ".hits"] + s[w + ".misses"] > 0) {
      pwc += (pwc.empty() ? "" : "  ") + std::string(c) + " " +
             pct(s[w + ".hits"], s[w + ".hits"] + s[w + ".misses"]);
    }
  }
  if (!pwc.empty()) {
    out += line("paging-structure cache hits", "", pwc);
  }
  double refs = s["cache.l1.hits"] + s["cache.l1.misses"];
  if (refs > 0) {
    out += line("PTE lines", "",
                "L1 " + pct(s["cache.l1.hits"], refs) + "  L2 " + pct(s["cache.l2.hits"], refs) +
                    "  LLC " + pct(s["cache.llc.hits"], refs) + "  DRAM " +
                    pct(s["cache.dram.accesses"], refs));
  }
  if (s.has(p + "os.page_faults")) {
    out += line("page faults", grouped(s[p + "os.page_faults"]),
                grouped(s[p + "os.page_table_pages"]) + " page-table pages");
  }
  if (s.has(p + "shadow.page_faults")) {
    // shadow: KVM's shadow MMU at work.
    out += line("guest page faults", grouped(s[p + "guest.page_faults"]),
                grouped(s[p + "guest.page_table_pages"]) + " guest page-table pages");
    out += line("shadow page faults", grouped(s[p + "shadow.page_faults"]),
                grouped(s[p + "shadow.sw_walks"]) + " software walks of the guest tables");
    out += line("shadow pages created", grouped(s[p + "shadow.pages_created"]),
                grouped(s[p + "shadow.zaps"]) + " zapped");
    out += line(
        "guest page-table writes", grouped(s[p + "shadow.wp_writes"]),
        "unsync " + grouped(s[p + "shadow.unsync"]) + "  sync " + grouped(s[p + "shadow.sync"]));
    out += line("host page faults", grouped(s[p + "host.page_faults"]));
    out += line("VM exits", grouped(s[p + "vmexits.total"]),
                "page fault " + grouped(s[p + "vmexits.page_fault"]) + "  CR3 " +
                    grouped(s[p + "vmexits.cr3_write"]) + "  INVLPG " +
                    grouped(s[p + "vmexits.invlpg"]) + "  MMIO " + grouped(s[p + "vmexits.mmio"]));
  } else if (s.has(p + "guest.page_faults")) {
    // nested: the 2D walk's split, the savings of each cache, the faults of each layer.
    out += line("references guest / EPT", "",
                grouped(s[p + "walker.refs.guest"]) + " / " + grouped(s[p + "walker.refs.host"]));
    std::string saved;
    auto add_saved = [&](const std::string& label, double v) {
      if (v > 0) {
        saved += (saved.empty() ? "" : "  ") + label + " " + grouped(v);
      }
    };
    double pwc_saved = 0;
    double ept_pwc_saved = 0;
    for (const char* c : {"pml5", "pml4", "pdpt", "pd"}) {
      pwc_saved += s[p + "walker.pwc." + c + ".refs_saved"];
      ept_pwc_saved += s[p + "walker.ept_pwc." + c + ".refs_saved"];
    }
    add_saved("guest PSC", pwc_saved);
    add_saved("EPT PSC", ept_pwc_saved);
    add_saved("nTLB", s[p + "walker.ntlb.refs_saved"]);
    add_saved("PWC", s[p + "walker.pte_cache.refs_saved"]);
    if (!saved.empty()) {
      out += line("references saved", "", saved);
    }
    out += line("guest page faults", grouped(s[p + "guest.page_faults"]),
                grouped(s[p + "guest.page_table_pages"]) + " guest page-table pages");
    out += line("EPT violations", grouped(s[p + "ept.violations"]),
                grouped(s[p + "ept.table_pages"]) + " EPT table pages");
    out += line("host page faults", grouped(s[p + "host.page_faults"]));
    out += line("VM exits", grouped(s[p + "vmexits.total"]),
                "EPT violation " + grouped(s[p + "vmexits.ept_violation"]) + "  MMIO " +
                    grouped(s[p + "vmexits.mmio"]) +
                    (s[p + "vmexits.ipi"] > 0 ? "  IPI " + grouped(s[p + "vmexits.ipi"]) : ""));
  }
  return out;
}

// VMs with statistics: vm<i>.sim.* for several, 1 otherwise (native mode included).
unsigned vm_count(const Lookup& s) {
  unsigned n = 0;
  while (s.has("vm" + std::to_string(n) + ".sim.accesses")) {
    ++n;
  }
  return n > 1 ? n : 1;
}

}  // namespace

std::string grouped(double v) {
  auto n = static_cast<unsigned long long>(v + 0.5);
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) {
      out += ',';
    }
    out += digits[i];
  }
  return out;
}

std::string format_summary(const std::vector<stats::Row>& rows, const std::string& trace_name,
                           const std::string& mode, const HostFigures& host) {
  Lookup s(rows);
  std::string out = "pagesim replay: " + trace_name + " (mode " + mode + ")\n";
  double accesses = s["sim.accesses"];
  out += line("accesses", grouped(accesses),
              "R " + grouped(s["sim.reads"]) + "  W " + grouped(s["sim.writes"]) + "  X " +
                  grouped(s["sim.fetches"]));
  out += line("cycles", grouped(s["sim.cycles"]));
  out += line("translation cycles", grouped(s["sim.translation_cycles"]),
              fixed(s["sim.translation_overhead_pct"], 2) + " % of cycles");
  if (s["pki.instructions"] > 0) {
    // Per kilo-instruction: the trace's fetches are its instructions (stats/per_instruction.h).
    std::string pki = "L1i " + fixed(s["pki.tlb.l1i.misses"], 2) + "  L1d " +
                      fixed(s["pki.tlb.l1d.misses"], 2) + "  STLB " +
                      fixed(s["pki.tlb.l2.misses"], 2);
    if (s["pki.walker.walks"] > 0) {
      pki += "  walks " + fixed(s["pki.walker.walks"], 2);
    }
    // "Instructions" are the trace's X records: one per instruction executed in a recorded
    // or ChampSim trace, but not in a synthetic one; the labels say what was counted.
    out += line("MPKI (per 1000 X records)", "", pki);
    out += line("CPI (cycles per X record)", fixed(s["pki.sim.cycles"] / 1000, 3),
                "translation " + fixed(s["pki.sim.translation_cycles"] / 1000, 3));
  }
  const unsigned vms = vm_count(s);
  if (vms == 1) {
    out += machine_summary(s, "");
  }
  for (unsigned vm = 0; vms > 1 && vm < vms; ++vm) {
    // Several VMs: each one's share, then its machine.
    const std::string p = "vm" + std::to_string(vm) + ".";
    out += "VM " + std::to_string(vm) + "\n";
    out += line("accesses", grouped(s[p + "sim.accesses"]),
                "R " + grouped(s[p + "sim.reads"]) + "  W " + grouped(s[p + "sim.writes"]) +
                    "  X " + grouped(s[p + "sim.fetches"]));
    out += line("cycles", grouped(s[p + "sim.cycles"]),
                "translation " + pct(s[p + "sim.translation_cycles"], s[p + "sim.cycles"]));
    out += machine_summary(s, p);
  }
  if (s["sim.cpu_switches"] > 0 || s["sim.shootdowns"] > 0) {
    // Several CPUs: the TLB shootdowns and what they cost (sim/core_module.h).
    out += line("TLB shootdowns", grouped(s["sim.shootdowns"]),
                "IPIs " + grouped(s["sim.ipis"]) + "  remote flushes " +
                    grouped(s["sim.remote_flushes"]) + "  cycles " +
                    grouped(s["sim.shootdown_cycles"]) + "  CPU switches " +
                    grouped(s["sim.cpu_switches"]));
    if (s["sim.pv_tlb_flushes"] + s["sim.preempted_ipis"] > 0) {
      // Preempted targets (vm.pcpus): flagged by the PV TLB flush, or IPIs waited for.
      out += line("preempted targets", grouped(s["sim.pv_tlb_flushes"] + s["sim.preempted_ipis"]),
                  "PV TLB flushes " + grouped(s["sim.pv_tlb_flushes"]) + "  IPIs waited for " +
                      grouped(s["sim.preempted_ipis"]));
    }
  }
  if (s.has("host.reclaim.scanned") &&
      (s["host.reclaim.scanned"] + s["mmu_notifier.invalidate_range"] > 0)) {
    // Host memory pressure (models/hostmm): what reclaim did and what it cost the VM.
    out += line("host reclaim", grouped(s["host.reclaim.reclaimed"]),
                "pages freed of " + grouped(s["host.reclaim.scanned"]) + " scanned  kswapd " +
                    grouped(s["host.reclaim.kswapd_wakeups"]) + "  direct " +
                    grouped(s["host.reclaim.direct"]));
    out += line("swap out / in", "",
                grouped(s["host.swap.outs"]) + " / " + grouped(s["host.swap.ins"]) +
                    " pages  refaults " + grouped(s["host.refaults"]));
    out += line("mmu_notifier", "",
                "invalidate_range " + grouped(s["mmu_notifier.invalidate_range"]) +
                    "  test_young " + grouped(s["mmu_notifier.test_young"]) + "  clear_young " +
                    grouped(s["mmu_notifier.clear_young"]) + "  shootdowns " +
                    grouped(s["tlb.shootdowns"]));
    // What it cost each VM (vm<i>.*: the host's counters of its VMM, the core's slowdown).
    for (unsigned vm = 0; vm < vms; ++vm) {
      const std::string p = "vm" + std::to_string(vm) + ".";
      out += line("VM " + std::to_string(vm) + " under pressure", "",
                  "refaults " + grouped(s[p + "refaults"]) + "  swap-ins " +
                      grouped(s[p + "swap_ins"]) + "  reclaimed " + grouped(s[p + "reclaimed"]) +
                      "  slowdown " + fixed(s[p + "slowdown"], 2) + "x");
    }
  }
  if (host.wall_seconds > 0) {
    const double replayed =
        host.replayed_accesses != 0 ? static_cast<double>(host.replayed_accesses) : accesses;
    out += line("host time", fixed(host.wall_seconds, 3) + " s",
                fixed(replayed / host.wall_seconds / 1e6, 2) + " M accesses/s");
  }
  if (host.peak_rss_bytes > 0) {
    out += line("peak memory", fixed(double(host.peak_rss_bytes) / double(1 << 20), 1) + " MiB",
                "resident set of the whole process");
  }
  return out;
}

}  // namespace pagesim::cli
