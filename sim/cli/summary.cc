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

}  // namespace

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
  out += "  TLB                           lookups       hits     misses   miss rate\n";
  for (const char* level : {"l1d", "l1i", "l2"}) {
    std::string p = std::string("tlb.") + level;
    double hits = s[p + ".hits"];
    double misses = s[p + ".misses"];
    char buf[160];
    std::snprintf(buf, sizeof buf, "    %-20s %16s %10s %10s %11s\n", level,
                  grouped(hits + misses).c_str(), grouped(hits).c_str(), grouped(misses).c_str(),
                  pct(misses, hits + misses).c_str());
    out += buf;
  }
  double walks = s["walker.walks"];
  out += line("page walks", grouped(walks),
              walks == 0 ? ""
                         : fixed(s["walker.refs"] / walks, 2) + " refs, " +
                               fixed(s["walker.cycles"] / walks, 1) + " cycles per walk");
  out += line("page-table references", grouped(s["walker.refs"]));
  out += line("walk cycles", grouped(s["walker.cycles"]));
  std::string pwc;
  for (const char* c : {"pml5", "pml4", "pdpt", "pd"}) {
    std::string p = std::string("walker.pwc.") + c;
    if (s.has(p + ".hits") && s[p + ".hits"] + s[p + ".misses"] > 0) {
      pwc += (pwc.empty() ? "" : "  ") + std::string(c) + " " +
             pct(s[p + ".hits"], s[p + ".hits"] + s[p + ".misses"]);
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
  if (s.has("os.page_faults")) {
    out += line("page faults", grouped(s["os.page_faults"]),
                grouped(s["os.page_table_pages"]) + " page-table pages");
  }
  if (s.has("shadow.page_faults")) {
    // shadow: KVM's shadow MMU at work.
    out += line("guest page faults", grouped(s["guest.page_faults"]),
                grouped(s["guest.page_table_pages"]) + " guest page-table pages");
    out += line("shadow page faults", grouped(s["shadow.page_faults"]),
                grouped(s["shadow.sw_walks"]) + " software walks of the guest tables");
    out += line("shadow pages created", grouped(s["shadow.pages_created"]),
                grouped(s["shadow.zaps"]) + " zapped");
    out += line("guest page-table writes", grouped(s["shadow.wp_writes"]),
                "unsync " + grouped(s["shadow.unsync"]) + "  sync " + grouped(s["shadow.sync"]));
    out += line("host page faults", grouped(s["host.page_faults"]));
    out += line("VM exits", grouped(s["vmexits.total"]),
                "page fault " + grouped(s["vmexits.page_fault"]) + "  CR3 " +
                    grouped(s["vmexits.cr3_write"]) + "  INVLPG " + grouped(s["vmexits.invlpg"]) +
                    "  MMIO " + grouped(s["vmexits.mmio"]));
  } else if (s.has("guest.page_faults")) {
    // nested: the 2D walk's split, the savings of each cache, the faults of each layer.
    out += line("references guest / EPT", "",
                grouped(s["walker.refs.guest"]) + " / " + grouped(s["walker.refs.host"]));
    std::string saved;
    auto add_saved = [&](const std::string& label, double v) {
      if (v > 0) {
        saved += (saved.empty() ? "" : "  ") + label + " " + grouped(v);
      }
    };
    double pwc_saved = 0;
    double ept_pwc_saved = 0;
    for (const char* c : {"pml5", "pml4", "pdpt", "pd"}) {
      pwc_saved += s[std::string("walker.pwc.") + c + ".refs_saved"];
      ept_pwc_saved += s[std::string("walker.ept_pwc.") + c + ".refs_saved"];
    }
    add_saved("guest PSC", pwc_saved);
    add_saved("EPT PSC", ept_pwc_saved);
    add_saved("nTLB", s["walker.ntlb.refs_saved"]);
    add_saved("PWC", s["walker.pte_cache.refs_saved"]);
    if (!saved.empty()) {
      out += line("references saved", "", saved);
    }
    out += line("guest page faults", grouped(s["guest.page_faults"]),
                grouped(s["guest.page_table_pages"]) + " guest page-table pages");
    out += line("EPT violations", grouped(s["ept.violations"]),
                grouped(s["ept.table_pages"]) + " EPT table pages");
    out += line("host page faults", grouped(s["host.page_faults"]));
    out += line("VM exits", grouped(s["vmexits.total"]),
                "EPT violation " + grouped(s["vmexits.ept_violation"]) + "  MMIO " +
                    grouped(s["vmexits.mmio"]));
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
  }
  if (host.wall_seconds > 0) {
    out += line("host time", fixed(host.wall_seconds, 3) + " s",
                fixed(accesses / host.wall_seconds / 1e6, 2) + " M accesses/s");
  }
  if (host.peak_rss_bytes > 0) {
    out += line("peak memory", fixed(double(host.peak_rss_bytes) / double(1 << 20), 1) + " MiB",
                "resident set of the whole process");
  }
  return out;
}

}  // namespace pagesim::cli
