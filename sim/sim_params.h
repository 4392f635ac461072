// The whole configuration: every model's Params under its key prefix. Defaults describe
// one Intel Skylake-SP core (Xeon Gold 6142, 2.6 GHz); each Params header cites its source.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"
#include "models/cache/cache_params.h"
#include "models/ept/ept_params.h"
#include "models/host/host_params.h"
#include "models/hostmm/reclaim_params.h"
#include "models/os/os_params.h"
#include "models/shadow/shadow_params.h"
#include "models/tlb/tlb_params.h"
#include "models/walker/nested_walker_params.h"
#include "models/walker/walker_params.h"

namespace pagesim {

// The most VMs one host runs (`vms`); a trace names up to traces::kMaxVms.
inline constexpr std::uint32_t kMaxHostVms = 64;

// What translates a core's addresses. native: the core's page tables, one walk dimension.
// nested: a guest on a host, GVA -> GPA -> HPA by the 2D walk (docs/model.md, "Nested
// mode"). shadow: a guest on a host without EPT/NPT; the hardware walks KVM's shadow
// tables (GVA -> HPA), built from the guest's (docs/model.md, "Shadow mode").
enum class Mode : std::uint8_t { kNative, kNested, kShadow };

// How the records of several CPUs (`cores`, vm.vcpus, `vms`) share simulated time
// (sim/core_module.h). trace: one thread runs every record in trace order, `!cpu N` and `!vm
// N` switching the CPU they run on. time: one thread per CPU with its own quantum keeper,
// the trace demultiplexed by `!cpu`/`!vm` into per-CPU streams that run side by side in
// simulated time, each at most a quantum (sim.quantum) ahead of the others. With one CPU in
// all, both are the trace-order replay.
enum class Interleave : std::uint8_t { kTrace, kTime };

struct CoreParams {
  // Work between two trace records that is not address translation (the trace carries no
  // instruction counts): charged once per access.
  Cycles cycles_per_access{1};
  double frequency_ghz = 2.6;  // converts cycles to SystemC time
  // The page walkers that work at once, and the accesses an out-of-order core issues past a
  // walk (models/walker/page_walkers.h; 0: each walk is waited for).
  unsigned page_walkers = 2;
  std::uint64_t walk_window = 0;
  // A TLB shootdown (several CPUs: `cores`, vm.vcpus). The sender pays ipi_cycles per
  // target (the ICR write and the interrupt's delivery) and waits for the handlers, which
  // run at once on the targets (Linux's flush_tlb_multi waits: one ipi_handler_cycles); each
  // target pays ipi_handler_cycles (interrupt entry, flush_tlb_func, its INVLPGs, EOI,
  // return). Estimates of the order shootdown studies report (microseconds per shootdown:
  // Amit et al., "Don't shoot down TLB shootdowns!", EuroSys 2020), not measurements.
  Cycles ipi_cycles{1000};
  Cycles ipi_handler_cycles{1500};
  void describe(config::Schema& s);
};

struct PagingParams {
  std::uint32_t levels = 4;  // 4-level paging, or 5 with LA57
  void describe(config::Schema& s);
};

struct SimControlParams {
  // Temporal-decoupling quantum: a core runs this many cycles ahead of SystemC time before
  // it synchronises. Larger is faster; with one core nothing depends on it. With several
  // CPUs and interleave = time, the bound on their skew (docs/model.md).
  Cycles quantum{1'000'000};
  // Compare every translation the TLBs and the walker's caches return with a walk from
  // scratch of the current tables; a mismatch stops the run (replay --check). Slow.
  bool check = false;
  // Accesses replayed with every structure live before the statistics start counting
  // (replay --warmup): a steady-state measurement. 0: count from the first access. With
  // `!roi` events in the trace, only their regions after the warm-up count.
  std::uint64_t warmup = 0;
  // A time series (replay --interval): every counter's value each `interval` accesses
  // (warm-up and regions outside !roi included: the series shows them), kept as deltas in
  // RunResult::timeseries. 0: none.
  std::uint64_t interval = 0;
  // Several CPUs: their records in trace order, or side by side in simulated time
  // (Interleave).
  Interleave interleave = Interleave::kTrace;
  void describe(config::Schema& s);
};

struct SimParams {
  Mode mode = Mode::kNative;
  // VMs on the host (nested and shadow mode): each with its memslots, guest kernel and one
  // vCPU on a physical core of its own (its TLBs and walker caches); they share host.memory,
  // its reclaim and swap. The trace's `!vm N` sends the records that follow to VM N.
  std::uint32_t vms = 1;
  // Cores of the host in native mode: each with its TLBs, paging-structure caches and CR3;
  // the trace's `!cpu N` sends the records that follow to core N. (A VM's vCPUs: vm.vcpus.)
  std::uint32_t cores = 1;
  std::uint64_t seed = 1;
  SimControlParams sim;
  CoreParams core;
  PagingParams paging;  // native mode's paging (nested: guest.levels, ept.levels)
  tlb::TlbHierarchyParams tlb;
  walker::WalkerParams walker;               // walker.pwc: the (guest) PSCs
  walker::NestedWalkerParams nested_walker;  // walker.ept_pwc, .ntlb, .pte_cache (nested)
  cache::CacheParams cache;
  os::OsParams os;  // native mode's kernel
  // Nested mode: the VM, its kernel, the EPT/NPT, the host kernel, the VM exits.
  host::VmParams vm;
  host::GuestParams guest;
  ept::EptParams ept;
  os::OsParams host;
  hostmm::ReclaimParams reclaim;  // host.swap, host.watermarks.*, ...: the host under pressure
  host::VmExitParams vmexit;
  shadow::ShadowParams shadow;  // shadow mode: KVM's shadow MMU

  void describe(config::Schema& s);
  // The checks between keys of different groups (host.load against host.memory and
  // host.swap, the watermarks against host.memory, vm.layout's GPAs against ept.levels):
  // registered last, run by validate() after every source is merged.
  void describe_relations(config::Schema& s);
};

// The low host memory never handed out as frames (hostmm::Host's FrameAllocator starts at
// 1 MiB, as a PC's kernel leaves the legacy megabyte alone).
inline constexpr std::uint64_t kHostLowBytes = kMiB;

// Params plus the schema bound to them: load sources in order, then validate().
class Configuration {
 public:
  Configuration();
  Configuration(const Configuration&) = delete;
  Configuration& operator=(const Configuration&) = delete;

  void load_file(const std::string& path);
  void set(std::string_view assignment);  // "key=value"
  void set(std::string_view key, std::string_view value, std::string_view origin);
  void validate() const { m_schema.validate(); }

  const SimParams& params() const { return *m_params; }
  const config::Schema& schema() const { return m_schema; }
  // The effective configuration as TOML (Schema::dump), after the notes, as comments.
  std::string dump() const;
  // A note for the dump's header, e.g. the preset the values came from (--preset).
  void add_dump_note(std::string_view text);

 private:
  std::unique_ptr<SimParams> m_params;
  config::Schema m_schema;
  std::string m_notes;  // comment lines, each "# ...\n"
};

}  // namespace pagesim

template <>
struct pagesim::config::EnumNames<pagesim::Mode> {
  static constexpr std::array<std::pair<std::string_view, pagesim::Mode>, 3> kNames{
      {{"native", pagesim::Mode::kNative},
       {"nested", pagesim::Mode::kNested},
       {"shadow", pagesim::Mode::kShadow}}};
};

template <>
struct pagesim::config::EnumNames<pagesim::Interleave> {
  static constexpr std::array<std::pair<std::string_view, pagesim::Interleave>, 2> kNames{
      {{"trace", pagesim::Interleave::kTrace}, {"time", pagesim::Interleave::kTime}}};
};
