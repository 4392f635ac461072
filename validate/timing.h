// pagesim-validate --timing (issue 22, first part): the host's load-to-use latencies,
// measured with dependent-load chains, per footprint and page size.
//
// Method. A buffer of F bytes holds one pointer per 64-byte line; the pointers form one
// random cycle over every line (Sattolo's shuffle), so each load depends on the one before
// and no prefetcher can guess the next line. The thread is pinned to the CPU it starts on;
// the chain is walked once to fault it in and warm it, then R times for N loads each, in
// bursts of 2048 loads each timed with the TSC (rdtsc) at a frequency measured against
// CLOCK_MONOTONIC_RAW; the report keeps the 10th percentile of the bursts ("min": a burst
// is short enough to run unpreempted on a busy host) and their median, in ns. With huge pages
// the buffer is 2 MiB aligned and madvise(MADV_HUGEPAGE)'d; without, MADV_NOHUGEPAGE.
// /proc/self/smaps's AnonHugePages for the buffer says what the kernel really gave: a
// footprint measured "huge" with no huge pages is reported so, not as huge. A footprint whose
// median is more than 10 % above its minimum is marked noisy.
//
// Calibration: L1 from 16 KiB, L2 from half its CPUID size (both on 4 KiB pages: a few
// pages, no TLB misses), the LLC from 4 x L2 (at most half the LLC) and DRAM from 8 times
// the LLC, these two on huge pages where the kernel gives them, so that TLB misses add least. Each
// figure is a load-to-use time at that level (not less the level below). Prediction with pagesim
// (issue 22's next part) is not here yet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pagesim::validate {

struct ChainPoint {
  std::uint64_t footprint_bytes = 0;
  bool huge_asked = false;       // MADV_HUGEPAGE (else MADV_NOHUGEPAGE)
  std::uint64_t huge_bytes = 0;  // AnonHugePages of the buffer (smaps)
  double min_ns = 0;             // per load, the 10th percentile of the timed bursts
  double median_ns = 0;          // per load, their median
  double min_tsc_cycles = 0;     // min_ns at the TSC's frequency
  bool noisy() const { return median_ns > 1.10 * min_ns; }
  bool huge_given() const { return huge_bytes * 2 >= footprint_bytes; }
};

struct TimingOptions {
  std::vector<std::uint64_t> footprints;  // bytes; empty: 16 KiB ... 4 GiB by powers of 4
  int repetitions = 5;
  std::uint64_t loads = 1'000'000;  // per repetition
  // The prediction's mode: native (empty), or nested with this host.thp ("never", "2m"):
  // for a measurement taken inside a guest, whose TLB misses are two-dimensional walks.
  std::string nested_host_thp;
  // Measure inside a KVM guest instead (pagesim-validate's VMM, validate/machine.h): the
  // guest runs the chain at CPL 3 over its data pages, 4 KiB guest pages on 4 KiB host pages
  // for the 4 KiB column, 2 MiB guest pages on THP for the huge one; the prediction is
  // pagesim's shadow mode (this host's KVM has no EPT/NPT) with guest.thp and host.thp so.
  bool guest = false;
};

// The largest footprint --guest measures: the data slot ends below 2 GiB of guest memory
// and holds at most 1 GiB - 4 KiB of pages (scenario.h).
inline constexpr std::uint64_t kGuestTimingMaxBytes = 256ull << 20;

// The cache sizes the calibration aims at, from this processor's CPUID (host preset).
struct CacheSizes {
  std::uint64_t l1 = 32 << 10, l2 = 512 << 10, llc = 32ull << 20;
};
CacheSizes host_cache_sizes();

struct Calibration {
  double tsc_ghz = 0;
  double l1_ns = 0, l2_ns = 0, llc_ns = 0, dram_ns = 0;  // load-to-use at each level
  std::string notes;                                     // what stood in for what
};

// One random cycle through `lines` lines (Sattolo's shuffle, seeded): order[i] is the line
// the chain visits i-th, and the last leads back to the first.
std::vector<std::uint32_t> chain_order(std::uint64_t lines, std::uint64_t seed);

// AnonHugePages (bytes) of the mapping that holds `base`, from /proc/self/smaps.
std::uint64_t anon_huge_bytes(const void* base);

// The TSC's frequency in GHz, against CLOCK_MONOTONIC_RAW over ~50 ms (the best of 3).
double measure_tsc_ghz();

// One dependent-load chain over `footprint` bytes. Throws std::runtime_error when the
// buffer cannot be mapped.
ChainPoint measure_chain(std::uint64_t footprint, bool huge, int repetitions, std::uint64_t loads,
                         double tsc_ghz);
// The same chain run by a KVM guest (TimingOptions::guest); huge_bytes is the host's
// AnonHugePages over the guest's data. Throws KvmUnavailable without /dev/kvm.
ChainPoint measure_guest_chain(std::uint64_t footprint, bool huge, int repetitions,
                               std::uint64_t loads, double tsc_ghz);
// A point from its bursts' TSC ticks (`burst` loads each): the 10th percentile and median.
ChainPoint chain_point(std::uint64_t footprint, bool huge, std::uint64_t huge_bytes,
                       const std::vector<std::uint64_t>& ticks, std::uint64_t burst,
                       double tsc_ghz);

Calibration calibrate(const CacheSizes& sizes, int repetitions, std::uint64_t loads);

// The prediction of one footprint's time per load, all of it pagesim's (issue 22):
// `pagesim replay gen:pointer_chase:...` over F (one random cycle through every line, as
// the measured chain; os.thp never or 2m) with --preset host, cache.data=true (the chain's
// loads go through the cache model and compete with the page-table lines), the calibrated
// latencies in cycles at the TSC's frequency, no page-fault cost, and a warm-up of one lap
// of the chain (at least 4 accesses per page and 100,000):
//   data_ns         cache.data.cycles per access: the load-to-use latency of each load;
//   translation_ns  sim.translation_cycles per access.
// With a nested host THP setting: mode=nested, guest.thp never or 2m, that host.thp, no VM
// exit or fault cost.
struct Prediction {
  double data_ns = 0;
  double translation_ns = 0;
  double total_ns() const { return data_ns + translation_ns; }
};

// The analytic data latency beside it: the calibrated latency of the first level whose
// CPUID size holds the whole footprint (the chain's fixed cyclic order defeats any smaller
// LRU-like cache). Printed for comparison in the JSON.
double predicted_data_ns(std::uint64_t footprint, const CacheSizes& sizes, const Calibration& cal);

// Runs `pagesim` (a path) for one footprint; the error text when it cannot.
std::optional<Prediction> predict_load(const std::string& pagesim, std::uint64_t footprint,
                                       bool huge, const TimingOptions& mode, const Calibration& cal,
                                       std::string& error);

// Runs the calibration and the footprint sweep (4 KiB and huge pages), predicts each with
// `pagesim_path`, prints the table to stdout and writes JSON to `json_path` when given.
// Returns the exit status: 0, or 1 when a measurement or a prediction failed (the error on
// stderr) or the calibration is not ordered.
int run_timing(const TimingOptions& options, const std::optional<std::string>& json_path,
               const std::string& pagesim_path);

}  // namespace pagesim::validate
