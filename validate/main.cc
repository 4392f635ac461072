// pagesim-validate: runs scenarios on this host's KVM, measures KVM's counters per phase
// (binary statistics, kvmmmu tracepoints through perf, getrusage) with the VMM's own
// baseline subtracted, predicts them from the kernel's rules (kvm_model.h), and prints
// the comparison. Exit status: 0 every row within tolerance, 1 a row outside or an error,
// 2 a usage error, 77 this host cannot run it (no /dev/kvm, no tracepoints, no permission).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "validate/host_info.h"
#include "validate/kvm_model.h"
#include "validate/machine.h"
#include "validate/perf_counters.h"
#include "validate/report.h"
#include "validate/sim_predictor.h"

using namespace pagesim::validate;

namespace {

constexpr int kSkip = 77;

const char* kUsage =
    "usage: pagesim-validate [--scenario NAME | --all | SCENARIO OPTIONS] [--json FILE]\n"
    "                        [--verbose] [--list]\n"
    "scenario options (any combination; defaults in brackets):\n"
    "  --pages N                 data pages the guest touches [256]\n"
    "  --pattern seq|random|stride2m   order and spacing (stride2m: one page per 2 MiB) [seq]\n"
    "  --op read|write|rw        what each touch does (rw: load then store) [read]\n"
    "  --guest-pages 4k|2m       the guest's page size for the data [4k]\n"
    "  --host-thp on|off         MADV_HUGEPAGE on the VMM's data memory [off]\n"
    "  --backing anon|memfd      the VMM's data memory [anon]\n"
    "  --reclaim ACTION:K        after pass 1, madvise ACTION (dontneed, free, pageout,\n"
    "                            remove) on the first K pages; repeatable\n"
    "  --memslot-readd           after pass 1, delete the data memslot and add it again\n"
    "  --pte-rewrite invlpg:K|cr3:K   after pass 1, the guest points K PTEs at other pages,\n"
    "                            then INVLPGs each or reloads CR3\n"
    "  --two-cr3                 pass 2 under a second CR3 (own tables), pass 3 back\n"
    "  --hole N                  after pass 1, loads from N pages of the 640K-1M hole\n"
    "  --passes P                passes over the pattern [2]\n"
    "  --seed S                  the random pattern's seed [1]\n"
    "  --scenario NAME           a preset (--list shows them); --all runs every preset\n"
    "  --json FILE               also write every row as JSON\n"
    "  --verbose                 print rows that are 0 measured and 0 predicted too\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "pagesim-validate: " << msg << "\n" << kUsage;
  std::exit(2);
}

std::uint64_t number(const std::string& opt, const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 12) {
    usage_error(opt + ": '" + v + "' is not a number");
  }
  return std::stoull(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Scenario custom;
  bool have_custom = false, all = false, verbose = false;
  std::vector<std::string> names;
  std::string json;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--list") {
      for (const Scenario& s : presets()) {
        std::cout << s.name << ": " << s.description << "\n    " << describe_options(s) << "\n";
      }
      return 0;
    } else if (a == "--all") {
      all = true;
    } else if (a == "--scenario") {
      names.push_back(value());
    } else if (a == "--json") {
      json = value();
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      have_custom = true;
      if (a == "--pages") {
        custom.pages = number(a, value());
      } else if (a == "--pattern") {
        const auto p = parse_pattern(value());
        if (!p) usage_error("--pattern: seq, random or stride2m");
        custom.pattern = *p;
      } else if (a == "--op") {
        const std::string v = value();
        if (v == "read") {
          custom.op = Op::kRead;
        } else if (v == "write") {
          custom.op = Op::kWrite;
        } else if (v == "rw") {
          custom.op = Op::kReadWrite;
        } else {
          usage_error("--op: read, write or rw");
        }
      } else if (a == "--guest-pages") {
        const std::string v = value();
        if (v != "4k" && v != "2m") usage_error("--guest-pages: 4k or 2m");
        custom.guest_pages = v == "4k" ? GuestPages::k4K : GuestPages::k2M;
      } else if (a == "--host-thp") {
        const std::string v = value();
        if (v != "on" && v != "off") usage_error("--host-thp: on or off");
        custom.host_thp = v == "on";
      } else if (a == "--backing") {
        const std::string v = value();
        if (v != "anon" && v != "memfd") usage_error("--backing: anon or memfd");
        custom.backing = v == "anon" ? HostMemory::Kind::kAnon : HostMemory::Kind::kMemfd;
      } else if (a == "--reclaim") {
        const auto r = parse_reclaim(value());
        if (!r) usage_error("--reclaim: ACTION:K with ACTION dontneed, free, pageout, remove");
        custom.reclaim.push_back(*r);
      } else if (a == "--memslot-readd") {
        custom.memslot_readd = true;
      } else if (a == "--pte-rewrite") {
        const std::string v = value();
        const auto colon = v.find(':');
        const std::string kind = v.substr(0, colon);
        if (colon == std::string::npos || (kind != "invlpg" && kind != "cr3")) {
          usage_error("--pte-rewrite: invlpg:K or cr3:K");
        }
        custom.pte_rewrite = kind == "invlpg" ? PteRewrite::kInvlpg : PteRewrite::kCr3;
        custom.rewrite_pages = number(a, v.substr(colon + 1));
      } else if (a == "--two-cr3") {
        custom.two_cr3 = true;
      } else if (a == "--hole") {
        custom.hole_pages = number(a, value());
      } else if (a == "--passes") {
        custom.passes = static_cast<int>(number(a, value()));
      } else if (a == "--seed") {
        custom.seed = number(a, value());
      } else {
        usage_error("unknown option '" + a + "'");
      }
    }
  }
  if (have_custom && custom.two_cr3 && custom.passes < 3) custom.passes = 3;

  std::vector<Scenario> run;
  if (all) run = presets();
  for (const std::string& n : names) {
    const Scenario* p = find_preset(n);
    if (p == nullptr) usage_error("no preset named '" + n + "' (--list shows them)");
    run.push_back(*p);
  }
  if (have_custom) run.push_back(custom);
  if (run.empty()) usage_error("nothing to run: give --all, --scenario NAME or options");
  for (const Scenario& s : run) {
    try {
      check(s);
    } catch (const std::invalid_argument& e) {
      usage_error(s.name + ": " + e.what());
    }
  }

  const HostInfo host = detect_host();
  std::cout << "host: " << host.describe() << "\n";
  if (host.two_dimensional()) {
    std::cerr << "pagesim-validate: skipped: this host uses two-dimensional paging (EPT/NPT); "
                 "the predictors (pagesim's shadow machine and the kernel-rules model) cover "
                 "KVM's shadow MMU only\n";
    return kSkip;
  }
  try {
    PerfCounters perf(default_tracepoints());
    std::vector<ScenarioReport> reports;
    for (const Scenario& s : run) {
      const std::vector<PhaseCounts> measured = run_scenario(s, perf);
      GuestLayout layout(s);
      KvmShadowModel model(s, layout, HostParams{.mmio_caching = host.mmio_caching});
      const std::vector<Counters> rules = model.predict(phases_of(s));
      GuestLayout sim_layout(s);
      SimulatorPredictor sim(s, sim_layout);
      const std::vector<Counters> simulated = sim.predict(phases_of(s));
      ScenarioReport r = compare(s, measured, simulated, rules);
      if (model.would_recycle()) {
        r.notes.push_back("the model holds " + std::to_string(model.peak_shadow_pages()) +
                          " shadow pages, near KVM's limit of " +
                          std::to_string(model.max_mmu_pages()) +
                          ": recycling (not modelled) changes the counts");
      }
      print_table(std::cout, r, verbose);
      reports.push_back(std::move(r));
    }
    std::size_t passed = 0, rows = 0;
    for (const ScenarioReport& r : reports) {
      passed += r.pass() ? 1 : 0;
      rows += r.rows.size();
    }
    std::cout << passed << " of " << reports.size() << " scenarios within tolerance (" << rows
              << " rows)\n";
    if (!json.empty()) {
      std::ofstream out(json);
      write_json(out, host.describe(), reports);
      if (!out) {
        std::cerr << "pagesim-validate: cannot write " << json << "\n";
        return 1;
      }
    }
    return passed == reports.size() ? 0 : 1;
  } catch (const KvmUnavailable& e) {
    std::cerr << "pagesim-validate: skipped: missing " << e.what << "\n";
    return kSkip;
  } catch (const PerfUnavailable& e) {
    std::cerr << "pagesim-validate: skipped: missing " << e.what << "\n";
    return kSkip;
  } catch (const std::exception& e) {
    std::cerr << "pagesim-validate: error: " << e.what() << "\n";
    return 1;
  }
}
