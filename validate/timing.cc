#include "validate/timing.h"

#include <sched.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sim/preset/cpuid.h"
#include "sim/preset/host_preset.h"
#include "validate/machine.h"
#include "validate/scenario.h"

namespace pagesim::validate {
namespace {

constexpr std::uint64_t kLine = 64;
constexpr std::uint64_t kHuge = 2u << 20;
constexpr std::uint64_t kBurst = 2048;  // loads timed together

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Pins the thread to the CPU it runs on now (the chain's caches stay that core's).
void pin_to_current_cpu() {
  const int cpu = sched_getcpu();
  if (cpu < 0) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// Walks the chain from `p` for `n` loads; returns where it ended (kept live).
__attribute__((noinline)) void* chase(void* p, std::uint64_t n) {
  void** q = static_cast<void**>(p);
  for (std::uint64_t i = 0; i < n; ++i) {
    q = static_cast<void**>(*q);
  }
  return q;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

std::uint64_t anon_huge_bytes(const void* base) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  const auto start = reinterpret_cast<std::uintptr_t>(base);
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > 8) {
      in_mapping = lo <= start && start < hi;
      continue;
    }
    unsigned long kb = 0;
    if (in_mapping && std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1) {
      return std::uint64_t{kb} * 1024;
    }
  }
  return 0;
}

std::vector<std::uint32_t> chain_order(std::uint64_t lines, std::uint64_t seed) {
  // Sattolo's shuffle: a random order of the lines that is one cycle through all of them.
  std::vector<std::uint32_t> order(lines);
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = lines - 1; i > 0; --i) {
    std::uniform_int_distribution<std::uint64_t> pick(0, i - 1);
    std::swap(order[i], order[pick(rng)]);
  }
  return order;
}

double measure_tsc_ghz() {
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    const std::uint64_t t0 = now_ns();
    const std::uint64_t c0 = __rdtsc();
    std::uint64_t t1 = t0;
    while (t1 - t0 < 50'000'000) {
      t1 = now_ns();
    }
    const std::uint64_t c1 = __rdtsc();
    const double ghz = static_cast<double>(c1 - c0) / static_cast<double>(t1 - t0);
    best = i == 0 ? ghz : std::min(best, ghz);  // the least inflated by a preemption
  }
  return best;
}

ChainPoint measure_chain(std::uint64_t footprint, bool huge, int repetitions, std::uint64_t loads,
                         double tsc_ghz) {
  const std::uint64_t lines = std::max<std::uint64_t>(footprint / kLine, 2);
  const std::uint64_t bytes = lines * kLine;
  // 2 MiB aligned: map a huge page more and start at the first 2 MiB boundary.
  void* raw =
      mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw std::runtime_error("mmap of " + std::to_string(bytes) + " bytes failed");
  }
  auto* base =
      reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
  madvise(base, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);

  const std::vector<std::uint32_t> order = chain_order(lines, footprint);
  for (std::uint64_t i = 0; i < lines; ++i) {
    *reinterpret_cast<void**>(base + order[i] * kLine) = base + order[(i + 1) % lines] * kLine;
  }
  ChainPoint point;
  point.footprint_bytes = footprint;
  point.huge_asked = huge;
  point.huge_bytes = anon_huge_bytes(base);

  void* p = chase(base, lines);  // warm: every line once
  // Short bursts, each timed alone: on a shared host a burst of ~0.1-1 ms mostly runs
  // without being preempted, where a long run always is.
  std::vector<std::uint64_t> ticks;
  for (int r = 0; r < repetitions; ++r) {
    for (std::uint64_t done = 0; done < loads; done += kBurst) {
      const std::uint64_t c0 = __rdtsc();
      p = chase(p, kBurst);
      const std::uint64_t c1 = __rdtsc();
      ticks.push_back(c1 - c0);
    }
  }
  asm volatile("" : : "r"(p) : "memory");
  munmap(raw, bytes + kHuge);
  return chain_point(footprint, huge, point.huge_bytes, ticks, kBurst, tsc_ghz);
}

ChainPoint chain_point(std::uint64_t footprint, bool huge, std::uint64_t huge_bytes,
                       const std::vector<std::uint64_t>& ticks, std::uint64_t burst,
                       double tsc_ghz) {
  if (ticks.empty()) throw std::runtime_error("no timed burst");
  // The 10th percentile of the bursts is the figure kept ("min"), the median says how
  // noisy the host was.
  std::vector<double> ns;
  for (std::uint64_t t : ticks) {
    ns.push_back(static_cast<double>(t) / tsc_ghz / static_cast<double>(burst));
  }
  std::sort(ns.begin(), ns.end());
  ChainPoint point;
  point.footprint_bytes = footprint;
  point.huge_asked = huge;
  point.huge_bytes = huge_bytes;
  point.min_ns = ns[ns.size() / 10];
  point.median_ns = median(ns);
  point.min_tsc_cycles = point.min_ns * tsc_ghz;
  return point;
}

ChainPoint measure_guest_chain(std::uint64_t footprint, bool huge, int repetitions,
                               std::uint64_t loads, double tsc_ghz) {
  const std::uint64_t lines = std::max<std::uint64_t>(footprint / kLine, 2);
  Scenario s;
  s.name = "timing";
  s.pages = (lines * kLine + 4095) / 4096;
  s.pattern = Pattern::kSeq;
  s.guest_pages = huge ? GuestPages::k2M : GuestPages::k4K;
  s.host_thp = huge;
  const std::uint64_t bursts =
      static_cast<std::uint64_t>(repetitions) * ((loads + kBurst - 1) / kBurst);
  const GuestChainRun run = run_guest_chain(s, chain_order(lines, footprint), bursts, kBurst);
  return chain_point(footprint, huge, run.host_huge_bytes, run.ticks, kBurst, tsc_ghz);
}

CacheSizes host_cache_sizes() {
  const preset::CpuInfo cpu = preset::decode_cpuid(preset::HostCpuid());
  CacheSizes s;
  if (cpu.l1d_cache) s.l1 = cpu.l1d_cache->size_bytes;
  if (cpu.l2_cache) s.l2 = cpu.l2_cache->size_bytes;
  if (cpu.l3_cache) s.llc = cpu.l3_cache->size_bytes;
  return s;
}

Calibration calibrate(const CacheSizes& sizes, int repetitions, std::uint64_t loads) {
  Calibration c;
  c.tsc_ghz = measure_tsc_ghz();  // also ~150 ms of busy work: the core's clock ramps up
  measure_chain(16 << 10, false, repetitions, loads, c.tsc_ghz);  // and once more, unused
  const ChainPoint l1 = measure_chain(std::min<std::uint64_t>(16 << 10, sizes.l1 / 2), false,
                                      repetitions, loads, c.tsc_ghz);
  const ChainPoint l2 = measure_chain(sizes.l2 / 2, false, repetitions, loads, c.tsc_ghz);
  // Past L2 but well inside the LLC: 4 x L2 (a quarter of the loads still hit L2), as an
  // LLC shared with other tenants may hold much less than its CPUID size for this core.
  const ChainPoint llc =
      measure_chain(std::min(sizes.l2 * 4, sizes.llc / 2), true, repetitions, loads, c.tsc_ghz);
  const ChainPoint dram = measure_chain(sizes.llc * 8, true, repetitions, loads, c.tsc_ghz);
  c.l1_ns = l1.min_ns;
  c.l2_ns = l2.min_ns;
  c.llc_ns = llc.min_ns;
  c.dram_ns = dram.min_ns;
  std::ostringstream notes;
  for (const ChainPoint* p : {&llc, &dram}) {
    if (p->footprint_bytes >= kHuge && !p->huge_given()) {
      notes << "the " << (p->footprint_bytes >> 10)
            << " KiB chain got no huge pages (AnonHugePages " << (p->huge_bytes >> 10)
            << " KiB): its time includes TLB misses\n";
    }
  }
  c.notes = notes.str();
  return c;
}

double predicted_data_ns(std::uint64_t footprint, const CacheSizes& sizes, const Calibration& cal) {
  // The chain visits every line once per lap in one fixed order: a cache smaller than the
  // footprint has evicted a line (LRU-like replacement) before the chain comes back to it,
  // so the loads are served by the first level that holds the whole footprint.
  if (footprint <= sizes.l1) return cal.l1_ns;
  if (footprint <= sizes.l2) return cal.l2_ns;
  if (footprint <= sizes.llc) return cal.llc_ns;
  return cal.dram_ns;
}

std::optional<Prediction> predict_load(const std::string& pagesim, std::uint64_t footprint,
                                       bool huge, const TimingOptions& mode, const Calibration& cal,
                                       std::string& error) {
  const std::string& nested_host_thp = mode.nested_host_thp;
  char csv[] = "/tmp/pagesim-timing-XXXXXX";
  const int fd = mkstemp(csv);
  if (fd < 0) {
    error = "mkstemp failed";
    return std::nullopt;
  }
  close(fd);
  const std::uint64_t pages = std::max<std::uint64_t>(footprint / (huge ? kHuge : 4096), 1);
  const std::uint64_t lines = std::max<std::uint64_t>(footprint / kLine, 2);
  const std::uint64_t warmup = std::max({lines, 4 * pages, std::uint64_t{100'000}});
  const std::uint64_t measured = 200'000;
  auto cycles = [&cal](double ns) {
    return std::to_string(std::max<long long>(std::llround(ns * cal.tsc_ghz), 0));
  };
  std::ostringstream cmd;
  cmd << "'" << pagesim << "' replay gen:pointer_chase:count=" << warmup + measured
      << ",footprint=" << lines * kLine << ",seed=1 --preset host --warmup " << warmup
      << " --set cache.data=true --set core.walk_window=0"  // each load depends on the last
      << " --set os.thp=" << (huge ? "2m" : "never")
      << " --set os.page_fault_latency=0 --set os.clear_page_latency=0";
  if (!nested_host_thp.empty()) {
    cmd << " --set mode=nested --set guest.thp=" << (huge ? "2m" : "never")
        << " --set host.thp=" << nested_host_thp
        << " --set guest.page_fault_latency=0 --set guest.clear_page_latency=0"
           " --set host.page_fault_latency=0 --set host.clear_page_latency=0"
           " --set vmexit.latency=0 --set vmexit.ept_violation_latency=0"
        << " --set vm.memory=" << std::max<std::uint64_t>(4ull << 30, 2 * footprint);
  } else if (mode.guest) {
    // The guest's chain under this host's KVM: shadow paging, a 2 MiB leaf only where the
    // guest page and the host page are both huge (kvm_mmu_max_mapping_level).
    const char* thp = huge ? "2m" : "never";
    cmd << " --set mode=shadow --set guest.thp=" << thp << " --set host.thp=" << thp
        << " --set guest.page_fault_latency=0 --set guest.clear_page_latency=0"
           " --set host.page_fault_latency=0 --set host.clear_page_latency=0"
           " --set vmexit.latency=0"
        << " --set vm.memory=" << std::max<std::uint64_t>(4ull << 30, 2 * footprint);
  }
  cmd << " --set core.frequency_ghz=" << cal.tsc_ghz
      << " --set cache.l1.latency=" << cycles(cal.l1_ns)
      << " --set cache.l2.latency=" << cycles(cal.l2_ns)
      << " --set cache.llc.latency=" << cycles(cal.llc_ns)
      << " --set cache.dram.latency=" << cycles(cal.dram_ns - cal.llc_ns) << " -q --csv " << csv
      << " 2>&1";
  std::string output;
  if (FILE* p = popen(cmd.str().c_str(), "r")) {
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
      output += buf;
    }
    if (pclose(p) != 0) {
      error = "pagesim failed: " + cmd.str() + "\n" + output;
      std::remove(csv);
      return std::nullopt;
    }
  }
  std::ifstream in(csv);
  std::string line;
  double translation = -1, data = -1, accesses = 0;
  while (std::getline(in, line)) {
    const auto c1 = line.find(',');
    const auto c2 = line.find(',', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    const std::string name = line.substr(0, c1);
    if (name == "sim.translation_cycles") translation = std::stod(line.substr(c1 + 1, c2 - c1 - 1));
    if (name == "sim.accesses") accesses = std::stod(line.substr(c1 + 1, c2 - c1 - 1));
    if (name == "cache.data.cycles") data = std::stod(line.substr(c1 + 1, c2 - c1 - 1));
  }
  std::remove(csv);
  if (translation < 0 || data < 0 || accesses <= 0) {
    error = "pagesim wrote no sim.translation_cycles or cache.data.cycles: " + cmd.str();
    return std::nullopt;
  }
  return Prediction{.data_ns = data / accesses / cal.tsc_ghz,
                    .translation_ns = translation / accesses / cal.tsc_ghz};
}

int run_timing(const TimingOptions& options, const std::optional<std::string>& json_path,
               const std::string& pagesim_path) {
  pin_to_current_cpu();
  std::vector<std::uint64_t> footprints = options.footprints;
  if (footprints.empty()) {
    for (std::uint64_t f = 16 << 10; f <= (4ull << 30); f *= 4) {
      footprints.push_back(f);
    }
  }
  if (options.guest) {
    std::erase_if(footprints, [](std::uint64_t f) { return f > kGuestTimingMaxBytes; });
  }
  try {
    const CacheSizes sizes = host_cache_sizes();
    const Calibration cal = calibrate(sizes, options.repetitions, options.loads);
    std::printf(
        "TSC %.3f GHz (against CLOCK_MONOTONIC_RAW); CPUID caches: L1D %llu KiB, L2 "
        "%llu KiB, L3 %llu KiB\n",
        cal.tsc_ghz, static_cast<unsigned long long>(sizes.l1 >> 10),
        static_cast<unsigned long long>(sizes.l2 >> 10),
        static_cast<unsigned long long>(sizes.llc >> 10));
    std::printf("calibrated load-to-use: L1 %.2f ns, L2 %.2f ns, LLC %.2f ns, DRAM %.2f ns\n",
                cal.l1_ns, cal.l2_ns, cal.llc_ns, cal.dram_ns);
    std::cout << cal.notes;
    if (!(cal.l1_ns < cal.l2_ns && cal.l2_ns < cal.dram_ns)) {
      std::cerr << "pagesim-validate --timing: the calibration is not ordered (L1 < L2 < "
                   "DRAM): this host was too noisy to measure\n";
      return 1;
    }
    std::printf(
        "predicted = data + translation, both pagesim's (%s, --preset host, %s, the chain's "
        "pattern gen:pointer_chase, cache.data=true)\n\n",
        pagesim_path.c_str(),
        options.guest ? "measured in a KVM guest; shadow mode, guest.thp = host.thp"
        : options.nested_host_thp.empty()
            ? "native mode"
            : ("nested mode, host.thp=" + options.nested_host_thp).c_str());
    std::printf("%10s | %8s %8s %7s %6s | %8s %8s %7s %6s %8s | %6s %6s | %s\n", "footprint",
                "4K meas", "pred", "xlat", "err", "THP meas", "pred", "xlat", "err", "THP KiB",
                "share", "pred", "notes");
    std::ostringstream json;
    json << "{\n  \"measured_in\": \"" << (options.guest ? "kvm-guest" : "host")
         << "\",\n  \"prediction_mode\": \""
         << (options.guest                     ? "shadow"
             : options.nested_host_thp.empty() ? "native"
                                               : "nested-host-thp-" + options.nested_host_thp)
         << "\",\n  \"tsc_ghz\": " << cal.tsc_ghz
         << ",\n  \"calibration_ns\": {\"l1\": " << cal.l1_ns << ", \"l2\": " << cal.l2_ns
         << ", \"llc\": " << cal.llc_ns << ", \"dram\": " << cal.dram_ns << "},\n  \"points\": [";
    bool first = true;
    int status = 0;
    for (std::uint64_t f : footprints) {
      const auto measure = options.guest ? measure_guest_chain : measure_chain;
      const ChainPoint small = measure(f, false, options.repetitions, options.loads, cal.tsc_ghz);
      const ChainPoint huge = measure(f, true, options.repetitions, options.loads, cal.tsc_ghz);
      std::string error;
      const double analytic_data = predicted_data_ns(f, sizes, cal);
      const auto small_pred = predict_load(pagesim_path, f, false, options, cal, error);
      const auto huge_pred =
          small_pred ? predict_load(pagesim_path, f, true, options, cal, error) : std::nullopt;
      if (!small_pred || !huge_pred) {
        std::cerr << "pagesim-validate --timing: no prediction for " << (f >> 10)
                  << " KiB: " << error << "\n";
        status = 1;
        continue;
      }
      const double pred_small = small_pred->total_ns(), pred_huge = huge_pred->total_ns();
      const double* xlat_small = &small_pred->translation_ns;
      const double* xlat_huge = &huge_pred->translation_ns;
      const double data = small_pred->data_ns;
      const double err_small = 100 * (pred_small - small.min_ns) / small.min_ns;
      const double err_huge = 100 * (pred_huge - huge.min_ns) / huge.min_ns;
      // The translation share of a 4 KiB-page load: what huge pages save, over its time.
      const double share = (small.min_ns - huge.min_ns) / small.min_ns;
      const double share_pred = (pred_small - pred_huge) / pred_small;
      std::string notes;
      if (small.noisy() || huge.noisy()) notes += "noisy (median > 1.1 x min) ";
      if (f >= kHuge && !huge.huge_given()) notes += "no huge pages given ";
      std::printf(
          "%6llu KiB | %8.2f %8.2f %7.2f %5.0f%% | %8.2f %8.2f %7.2f %5.0f%% %8llu | %5.0f%% "
          "%5.0f%% | %s\n",
          static_cast<unsigned long long>(f >> 10), small.min_ns, pred_small, *xlat_small,
          err_small, huge.min_ns, pred_huge, *xlat_huge, err_huge,
          static_cast<unsigned long long>(huge.huge_bytes >> 10), 100 * share, 100 * share_pred,
          notes.c_str());
      json << (first ? "" : ",") << "\n    {\"footprint_bytes\": " << f
           << ", \"measured_ns_4k\": " << small.min_ns << ", \"median_ns_4k\": " << small.median_ns
           << ", \"predicted_ns_4k\": " << pred_small
           << ", \"predicted_translation_ns_4k\": " << *xlat_small
           << ", \"measured_ns_thp\": " << huge.min_ns << ", \"median_ns_thp\": " << huge.median_ns
           << ", \"predicted_ns_thp\": " << pred_huge
           << ", \"predicted_translation_ns_thp\": " << *xlat_huge
           << ", \"predicted_data_ns\": " << data
           << ", \"predicted_data_ns_thp\": " << huge_pred->data_ns
           << ", \"analytic_data_ns\": " << analytic_data << ", \"thp_bytes\": " << huge.huge_bytes
           << ", \"translation_share\": " << share
           << ", \"predicted_translation_share\": " << share_pred
           << ", \"noisy\": " << ((small.noisy() || huge.noisy()) ? "true" : "false") << "}";
      first = false;
    }
    json << "\n  ]\n}\n";
    if (json_path) {
      std::ofstream(*json_path) << json.str();
    }
    return status;
  } catch (const std::exception& e) {
    std::cerr << "pagesim-validate --timing: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace pagesim::validate
