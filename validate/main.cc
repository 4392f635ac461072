// pagesim-validate: runs scenarios on this host's KVM, measures KVM's counters per phase
// (binary statistics, kvmmmu tracepoints through perf, getrusage) with the VMM's own
// baseline subtracted, predicts them with pagesim's shadow machine (sim_predictor.h) and
// the kernel's rules (kvm_model.h), and prints the comparison. Scenarios: the presets
// (--all, --scenario), one given by its options, or N drawn from the whole parameter space
// (--sample N --seed S). Exit status: 0 every row passed, 1 a row did not (outside its
// tolerance, not modelled, absent) or an error, 2 a usage error, 77 this host cannot run it
// (no /dev/kvm, no tracepoints, no permission).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "validate/host_info.h"
#include "validate/kvm_model.h"
#include "validate/machine.h"
#include "validate/perf_counters.h"
#include "validate/report.h"
#include "validate/sim_predictor.h"
#include "validate/timing.h"

using namespace pagesim::validate;

namespace {

constexpr int kSkip = 77;

const char* kUsage =
    "usage: pagesim-validate [--scenario NAME | --all | --sample N [--seed S] | SCENARIO OPTIONS]\n"
    "                        [--json FILE] [--verbose] [--list]\n"
    "       pagesim-validate --timing [--quick] [--json FILE] [--pagesim PATH]\n"
    "                        [--nested never|2m | --guest]\n"
    "  --timing                  this host's load-to-use time per footprint (16 KiB to\n"
    "                            4 GiB; --quick: to 64 MiB), 4 KiB and transparent huge\n"
    "                            pages, by dependent-load chains, against pagesim's\n"
    "                            prediction with --preset host and the calibrated L1, L2,\n"
    "                            LLC and DRAM latencies (pagesim: PATH, else the one built\n"
    "                            beside this binary, else PATH's); docs/validation.md,\n"
    "                            \"Timing\"; no KVM needed. --nested: predict in nested\n"
    "                            mode, this host.thp under the guest this runs in.\n"
    "                            --guest: the chains run in a KVM guest of this host\n"
    "                            (to 256 MiB; 4 KiB guest pages on 4 KiB host pages, and\n"
    "                            2 MiB on THP), predicted in shadow mode; exit status 77\n"
    "                            without /dev/kvm\n"
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
    "  --vcpus 1|2               vCPUs of the VM [1]; 2: each guest phase runs on one\n"
    "                            vCPU (its own thread), pass 1 on vCPU 0 then 1, a PTE\n"
    "                            rewrite on vCPU 0 then a CR3 reload on vCPU 1, later\n"
    "                            passes on vCPU 1 then 0 (docs/validation.md, \"Two vCPUs\")\n"
    "  --hole N                  after pass 1, loads from N pages of the 640K-1M hole\n"
    "  --passes P                passes over the pattern [2]\n"
    "  --trace FILE              (repeatable) the passes replay a pagesim trace (any format "
    "pagesim\n"
    "                            replay reads): its pages placed as docs/validation.md\n"
    "                            \"Replaying a trace\" says, its accesses as loads, stores\n"
    "                            and instruction fetches, !cr3, !invlpg and !ptewrite as\n"
    "                            the guest's own (other events are refused by name); with\n"
    "                            --guest-pages, --host-thp, --backing, --reclaim,\n"
    "                            --memslot-readd and --passes only\n"
    "  --seed S                  the random pattern's seed [1] (with --sample: the draw's)\n"
    "  --scenario NAME           a preset (--list shows them); --all runs every preset\n"
    "  --sample N                N scenarios drawn from every option above and their\n"
    "                            combinations (--seed S: the draw's seed, printed; a random\n"
    "                            one without it); a scenario that does not pass prints the\n"
    "                            options that rerun it alone. With --list: the draw only\n"
    "  --list                    the presets (with --sample: the draw; with scenario\n"
    "                            options: those options as a scenario's one line)\n"
    "  --json FILE               also write every row as JSON\n"
    "  --verbose                 print rows that are 0 measured and 0 predicted too, and\n"
    "                            every sampled scenario's table\n";

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

// The value a THP sysfs file selects ("always [madvise] never" -> "madvise"); `fallback`
// when the file is missing (a kernel without THP: never).
std::string thp_mode(const std::string& path, const std::string& fallback) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return fallback;
  const auto open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return fallback;
  return text.substr(open + 1, close - open - 1);
}

// MemAvailable of /proc/meminfo in bytes (nullopt: unreadable).
std::optional<std::uint64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// A trace whose guest memory this host (or the predictor's simulated host of 8 GiB)
// cannot hold is refused before anything runs.
void check_trace_fits_host(const Scenario& s) {
  const std::uint64_t guest = data_slot_bytes(s) + sys_slot_bytes(s) + kLowSlotSize;
  constexpr std::uint64_t kPredictorLimit = 6ull << 30;  // of the predictor's host.memory=8GiB
  const auto available = mem_available();
  auto gib = [](std::uint64_t b) {
    char t[32];
    std::snprintf(t, sizeof t, "%.2f GiB", static_cast<double>(b) / (1ull << 30));
    return std::string(t);
  };
  if (guest > kPredictorLimit || (available && 2 * guest > *available)) {
    std::cerr << "pagesim-validate: --trace " << s.trace->path() << ": the trace touches "
              << s.trace->pages().size() << " pages: the guest needs " << gib(guest)
              << "; a validation run holds at most " << gib(kPredictorLimit)
              << " (the predictor simulates an 8 GiB host)"
              << (available
                      ? " and twice the guest in this host's available memory, " + gib(*available)
                      : std::string())
              << "\n";
    std::exit(2);
  }
}

// Whether KVM's NX huge-page mitigation is on (/sys/module/kvm/parameters/nx_huge_pages:
// "Y", or "force"; "N", "off" and "never" are off).
bool nx_huge_pages_on() {
  std::ifstream in("/sys/module/kvm/parameters/nx_huge_pages");
  std::string v;
  if (!(in >> v)) return false;
  return v == "Y" || v == "y" || v == "1" || v == "force";
}

// Runs one scenario and compares it; an error (the VMM, the predictors) is the report's,
// so that a sample goes on. KvmUnavailable and PerfUnavailable pass through (a skip).
ScenarioReport run_one(const Scenario& s, const PerfCounters& perf, const HostInfo& host,
                       const HostConditions& conditions) {
  try {
    const std::vector<PhaseCounts> measured = run_scenario(s, perf);
    std::vector<Counters> simulated;
    {
      GuestLayout sim_layout(s);
      SimulatorPredictor sim(s, sim_layout, host);
      simulated = sim.predict(phases_of(s));
    }
    if (s.vcpus != 1) {
      // The kernel-rules model has one vCPU: the simulator predicts alone.
      return compare(s, measured, simulated, std::vector<Counters>(simulated.size()), conditions,
                     "");
    }
    if (s.trace) {
      // The kernel-rules model knows the patterns only: the simulator predicts alone.
      ScenarioReport r =
          compare(s, measured, simulated, std::vector<Counters>(simulated.size()), conditions, "");
      r.notes.push_back("trace: " + s.trace->summary());
      // KVM's iTLB-multihit mitigation maps a huge page the guest executes from with 4 KiB
      // shadow pages (kvm.nx_huge_pages=Y, disallowed_hugepage_adjust); the simulator does
      // not model it, so a pass that fetches from 2 MiB guest pages is not judged there.
      const bool fetches = std::any_of(s.trace->pages().begin(), s.trace->pages().end(),
                                       [](const TraceProgram::Page& p) { return p.fetched; });
      if (fetches && s.guest_pages == GuestPages::k2M && nx_huge_pages_on()) {
        for (Row& row : r.rows) {
          if (row.measured && row.predicted) {
            row.verdict = Verdict::kNotModelled;
            row.reason =
                "kvm.nx_huge_pages=Y splits executed huge pages (not modelled by the simulator)";
          }
        }
      }
      return r;
    }
    GuestLayout layout(s);
    KvmShadowModel model(s, layout, HostParams{.mmio_caching = host.mmio_caching});
    const std::vector<Counters> rules = model.predict(phases_of(s));
    const std::string recycle_note =
        model.would_recycle()
            ? "the rules model holds " + std::to_string(model.peak_shadow_pages()) +
                  " shadow pages, near KVM's limit of " + std::to_string(model.max_mmu_pages()) +
                  ": recycling (not modelled there) changes the counts"
            : "";
    ScenarioReport r = compare(s, measured, simulated, rules, conditions, recycle_note);
    if (!recycle_note.empty()) r.notes.push_back(recycle_note);
    return r;
  } catch (const std::exception& e) {
    ScenarioReport r;
    r.name = s.name;
    r.options = describe_options(s);
    r.description = s.description;
    r.error = e.what();
    return r;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // --timing (issue 22): this host's load-to-use latencies by dependent-load chains
  // (validate/timing.h); no KVM involved.
  if (!args.empty() && args[0] == "--timing") {
    TimingOptions timing;
    std::optional<std::string> timing_json;
    // pagesim predicts: --pagesim PATH, else the one built beside this binary (build/sim/).
    std::string pagesim = "pagesim";
    char self[4096];
    if (const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1); n > 0) {
      self[n] = 0;
      std::string dir = self;
      dir = dir.substr(0, dir.rfind('/'));
      if (access((dir + "/../sim/pagesim").c_str(), X_OK) == 0) {
        pagesim = dir + "/../sim/pagesim";
      }
    }
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--quick") {
        timing.loads = 200'000;
        timing.repetitions = 3;
        for (std::uint64_t f = 16 << 10; f <= (64u << 20); f *= 4) {
          timing.footprints.push_back(f);
        }
      } else if (args[i] == "--json" && i + 1 < args.size()) {
        timing_json = args[++i];
      } else if (args[i] == "--pagesim" && i + 1 < args.size()) {
        pagesim = args[++i];
      } else if (args[i] == "--guest") {
        timing.guest = true;
      } else if (args[i] == "--nested" && i + 1 < args.size()) {
        timing.nested_host_thp = args[++i];
        if (timing.nested_host_thp != "never" && timing.nested_host_thp != "2m") {
          usage_error("--nested: never or 2m (the host's THP under this guest)");
        }
      } else {
        usage_error(
            "--timing takes --quick, --json FILE, --pagesim PATH, --nested never|2m and "
            "--guest, "
            "not '" +
            args[i] + "'");
      }
    }
    if (timing.guest && !timing.nested_host_thp.empty()) {
      usage_error("--guest and --nested: the guest's prediction is shadow mode (this host's KVM)");
    }
    try {
      return run_timing(timing, timing_json, pagesim);
    } catch (const KvmUnavailable& e) {
      std::cerr << "pagesim-validate --timing --guest: skipped: missing " << e.what << "\n";
      return kSkip;
    }
  }
  Scenario custom;
  bool have_custom = false, all = false, verbose = false, list = false, passes_given = false;
  std::optional<std::uint64_t> sample, seed;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<const TraceProgram>> traces;  // --trace, repeatable
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
      list = true;
    } else if (a == "--all") {
      all = true;
    } else if (a == "--scenario") {
      names.push_back(value());
    } else if (a == "--sample") {
      sample = number(a, value());
      if (*sample == 0) usage_error("--sample: at least 1");
    } else if (a == "--json") {
      json = value();
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--seed") {
      // The random pattern's seed, or with --sample the draw's (decided once all are read).
      seed = number(a, value());
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
      } else if (a == "--vcpus") {
        custom.vcpus = static_cast<int>(std::min<std::uint64_t>(number(a, value()), 1000));
      } else if (a == "--hole") {
        custom.hole_pages = number(a, value());
      } else if (a == "--trace") {
        const std::string path = value();
        try {
          traces.push_back(TraceProgram::load(path));
        } catch (const std::exception& e) {
          std::cerr << "pagesim-validate: --trace: " << e.what() << "\n";
          return 2;
        }
      } else if (a == "--passes") {
        custom.passes = static_cast<int>(std::min<std::uint64_t>(number(a, value()), 1000));
        passes_given = true;
      } else {
        usage_error("unknown option '" + a + "'");
      }
    }
  }
  if (!traces.empty()) {
    for (const std::string& a : args) {
      for (const char* o :
           {"--pages", "--pattern", "--op", "--pte-rewrite", "--two-cr3", "--hole", "--seed"}) {
        if (a == o)
          usage_error(a + " does not go with --trace (the trace says what it stands for)");
      }
    }
  }
  if (sample && (have_custom || all || !names.empty())) {
    usage_error("--sample draws every option: give it alone (with --seed, --json, --verbose)");
  }
  if (!sample && seed) {
    have_custom = true;
    custom.seed = *seed;
  }
  // Two CR3s need passes 2 (the second CR3) and 3 (back): three unless --passes says.
  if (have_custom && custom.two_cr3 && !passes_given) custom.passes = 3;

  std::vector<Scenario> run;
  std::uint64_t sample_seed = 0;
  if (sample) {
    sample_seed = seed ? *seed : std::random_device{}() % 1000000000000ull;
    std::uint64_t state = sample_seed;
    for (std::uint64_t n = 1; n <= *sample; ++n) {
      Scenario s = draw_scenario(state);
      s.name = "sample-" + std::to_string(n);
      run.push_back(std::move(s));
    }
  }
  // One scenario per --trace, with the other options given.
  std::vector<Scenario> trace_runs;
  for (const auto& t : traces) {
    Scenario s = custom;
    s.trace = t;
    s.name = "trace:" + std::filesystem::path(t->path()).filename().string();
    s.description = "the trace " + t->path() + " replayed";
    trace_runs.push_back(std::move(s));
  }
  if (list) {
    if (!trace_runs.empty()) {
      for (const Scenario& s : trace_runs) {
        try {
          check(s);
        } catch (const std::invalid_argument& e) {
          usage_error(s.name + ": " + e.what());
        }
        std::cout << s.name << ": " << describe_options(s) << "\n    " << s.trace->summary()
                  << "\n";
      }
    } else if (sample) {
      std::cout << "sample of " << *sample << ", seed " << sample_seed << "\n";
      for (const Scenario& s : run) std::cout << s.name << ": " << describe_options(s) << "\n";
    } else if (have_custom) {
      // The scenario the options make, as the options that make it again.
      try {
        check(custom);
      } catch (const std::invalid_argument& e) {
        usage_error(custom.name + ": " + e.what());
      }
      std::cout << custom.name << ": " << describe_options(custom) << "\n";
    } else {
      for (const Scenario& s : presets()) {
        std::cout << s.name << ": " << s.description << "\n    " << describe_options(s) << "\n";
      }
      std::cout << "two vCPUs (docs/validation.md, \"Two vCPUs\"):\n";
      for (const Scenario& s : two_vcpu_presets()) {
        std::cout << s.name << ": " << s.description << "\n    " << describe_options(s) << "\n";
      }
    }
    return 0;
  }
  if (all) {
    run = presets();
    run.insert(run.end(), two_vcpu_presets().begin(), two_vcpu_presets().end());
  }
  for (const std::string& n : names) {
    const Scenario* p = find_preset(n);
    if (p == nullptr) usage_error("no preset named '" + n + "' (--list shows them)");
    run.push_back(*p);
  }
  if (!traces.empty()) {
    run.insert(run.end(), trace_runs.begin(), trace_runs.end());
  } else if (have_custom) {
    run.push_back(custom);
  }
  if (run.empty())
    usage_error("nothing to run: give --all, --scenario NAME, --sample N or options");
  for (const Scenario& s : run) {
    try {
      check(s);
    } catch (const std::invalid_argument& e) {
      usage_error(s.name + ": " + e.what());
    }
    if (s.trace) check_trace_fits_host(s);
  }

  const HostInfo host = detect_host();
  std::cout << "host: " << host.describe() << "\n";
  if (host.two_dimensional()) {
    std::cerr << "pagesim-validate: skipped: this host uses two-dimensional paging (EPT/NPT); "
                 "the predictors (pagesim's shadow machine and the kernel-rules model) cover "
                 "KVM's shadow MMU only\n";
    return kSkip;
  }
  const std::string thp_dir = "/sys/kernel/mm/transparent_hugepage/";
  const HostConditions conditions{.mmio_caching = host.mmio_caching,
                                  .thp_enabled = thp_mode(thp_dir + "enabled", "never"),
                                  .shmem_enabled = thp_mode(thp_dir + "shmem_enabled", "never")};
  if (sample) {
    std::cout << "sample: " << *sample << " scenarios drawn with seed " << sample_seed
              << " (again: pagesim-validate --sample " << *sample << " --seed " << sample_seed
              << ")\n";
  }
  std::cout.flush();
  try {
    PerfCounters perf(default_tracepoints());
    std::vector<ScenarioReport> reports;
    for (const Scenario& s : run) {
      ScenarioReport r = run_one(s, perf, host, conditions);
      if (sample) {
        // One line each; the rows of one that did not pass (every row with --verbose).
        std::cout << r.name << ": " << r.status() << ": " << r.options << "\n";
        if (verbose || !r.pass()) print_table(std::cout, r, verbose, !verbose);
      } else {
        print_table(std::cout, r, verbose);
      }
      std::cout.flush();
      reports.push_back(std::move(r));
    }
    std::cout << "not compared:";
    for (const NotCompared& n : not_compared_counters()) {
      std::cout << "\n  " << n.counter << ": " << n.reason;
    }
    std::cout << "\n";
    print_summary(std::cout, reports);
    if (sample) std::cout << "sample seed " << sample_seed << "\n";
    std::size_t passed = 0;
    for (const ScenarioReport& r : reports) passed += r.pass() ? 1 : 0;
    if (!json.empty()) {
      std::ofstream out(json);
      write_json(out, host.describe(), reports,
                 sample ? std::optional(SampleInfo{*sample, sample_seed}) : std::nullopt);
      if (!out) {
        std::cerr << "pagesim-validate: cannot write " << json << "\n";
        return 1;
      }
    }
    std::cout << passed << " of " << reports.size() << " scenarios passed\n";
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
