// One scenario on one VM: the host memory, the memslots (slot 0 low memory, the hole, slot
// 1 tables and command list, slot 2 data), the guest's page tables (one CR3, or two with
// --two-cr3), and the phases: a warm-up that faults in everything the VMM's own code needs,
// then the scenario's passes and events, each measured as the difference of the counters
// before and after it.
//
// The baseline is a second, identical VM (run after the measured one) replaying every
// phase neutralized (CommandList::neutralized; host events skipped): what the VMM costs by
// itself (the emulated CPL 0 handler, the phase's exit to the VMM) is its count, and
// subtracted from the measured one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "validate/guest_page_tables.h"
#include "validate/kvm_stats.h"
#include "validate/perf_counters.h"
#include "validate/scenario.h"
#include "validate/vmm.h"

namespace pagesim::validate {

// The guest's memory and page tables for a scenario, built without KVM (the predictor
// walks the same tables): host memory of the three slots, the command-list area, the
// table pool, one or two trees (CR3s).
class GuestLayout {
 public:
  explicit GuestLayout(const Scenario& s);
  std::uint8_t* gpa_ptr(Gpa gpa) const;
  const GuestPageTables& tree(std::size_t i) const { return *m_trees.at(i); }
  std::size_t trees() const { return m_trees.size(); }
  std::uint64_t list_bytes() const { return m_list_bytes; }
  std::uint64_t sys_bytes() const { return m_sys_bytes; }
  Gpa pool_begin() const { return Gpa(kSysSlotGpa + m_list_bytes); }
  Gpa pool_next() const { return m_pool_next; }
  HostMemory& low() const { return *m_low; }
  HostMemory& sys() const { return *m_sys; }
  HostMemory& data() const { return *m_data; }
  // The command list of a guest phase (the warm-up's with warm_up_commands()).
  CommandList commands(const struct PhaseInfo& info) const;
  CommandList warm_up_commands() const;
  // Guest-physical pages the VMM wrote before the guest ran, besides slots 0 and 1 (the
  // fetched trace pages' kFetchStub): the predictor loads them too.
  const std::vector<Gpa>& preloaded_data_pages() const { return m_preloaded; }

 private:
  const Scenario& m_s;
  std::uint64_t m_list_bytes = 0;
  std::uint64_t m_sys_bytes = 0;
  Gpa m_pool_next;
  std::unique_ptr<HostMemory> m_low, m_sys, m_data;
  std::vector<std::unique_ptr<GuestPageTables>> m_trees;
  // With a trace: every pass's phase lists, in phases_of's order of passes and segments.
  std::vector<CommandList> m_trace_lists;
  std::vector<Gpa> m_preloaded;

  void map_identity(GuestPageTables& tree) const;
  void build_trace();
  void make_trace_lists();
};

// What a phase does, for the predictors.
struct PhaseInfo {
  enum class Kind { kPass, kMadvise, kMemslotReadd, kPteRewrite, kCr3Switch, kHole };
  Kind kind;
  std::string name;
  int pass = 0;      // kPass: 1-based
  int cr3 = 0;       // kPass, kCr3Switch: which tree (0 = first CR3, 1 = second)
  int segment = -1;  // kPass with a trace: the trace's segment (TraceProgram::segments())
  int cpu = 0;       // a guest phase: the vCPU that runs it (--vcpus 2)
  ReclaimAction madvise{};
  int madvise_errno = 0;  // set by the run: madvise's error (0 = done)
};

// The phases of a scenario, in order (the same for the measured run, the baseline and the
// predictors). With two vCPUs each guest phase runs on one vCPU, named "cpuN:" + its
// one-vCPU name: pass 1 on vCPU 0 then 1; the host's events (madvise, the memslot's
// delete and re-add); a PTE rewrite on vCPU 0 and then vCPU 1's CR3 reload
// (cpu1:cr3-reload: a MOV to CR3 of its own root); the hole's loads on vCPU 1 then 0; each
// later pass on vCPU 1 then vCPU 0, each vCPU's --two-cr3 switch before its passes 2 and 3.
std::vector<PhaseInfo> phases_of(const Scenario& s);

struct PhaseCounts {
  PhaseInfo info;
  // Counters of the measured VM over the phase: KVM's VM-wide statistics ("vm."), the
  // statistics of the vCPU that ran a guest phase ("vcpu."; a host phase: the sum over the
  // vCPUs), and the tracepoints and rusage of the thread that ran it (the vCPU's thread,
  // or the VMM's for a host phase). With two vCPUs also "idle.vcpu.*": the other vCPUs'
  // statistics over a guest phase (not compared; 0 expected).
  Counters measured;
  Counters baseline;  // the baseline VM's over its neutralized phase
  // The host's page aging on each VM's memory (validate/host_aging.h), from the VM's
  // creation to the phase's end: an SPTE aged at any time before keeps its Accessed bit
  // clear until the guest touches the page again. nullopt: not counted (aging_unavailable).
  std::optional<std::int64_t> aged;
  std::optional<std::int64_t> baseline_aged;
  std::string aging_unavailable;
};

// Runs the scenario (measured VM, then the baseline VM). `perf` counts this thread.
std::vector<PhaseCounts> run_scenario(const Scenario& s, const PerfCounters& perf);

// pagesim-validate --timing --guest (validate/timing.h): the guest runs the dependent-load
// chain `order` over the data pages of `s` (sequential; one 8-byte pointer per 64-byte
// line, written by the VMM: order[i]'s line points to order[i + 1]'s GVA). After the
// warm-up and one untimed lap (the guest's faults, KVM's shadow pages), `bursts` runs of
// `burst_loads` loads each, each timed by the guest with the TSC (kChase). Also the host's
// AnonHugePages over the data slot, read after the run.
struct GuestChainRun {
  std::vector<std::uint64_t> ticks;  // TSC ticks per burst
  std::uint64_t host_huge_bytes = 0;
};
GuestChainRun run_guest_chain(const Scenario& s, const std::vector<std::uint32_t>& order,
                              std::uint64_t bursts, std::uint64_t burst_loads);

// Counters from getrusage(RUSAGE_THREAD): rusage.minflt, rusage.majflt, rusage.nivcsw.
Counters rusage_counters();

}  // namespace pagesim::validate
