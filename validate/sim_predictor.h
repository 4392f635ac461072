// The simulator as predictor: pagesim's shadow-paged machine (models/shadow, the model
// `pagesim replay --set mode=shadow` runs) replays a scenario on the guest pagesim-validate
// builds, and its statistics, read before and after each phase, become the KVM counters
// they model (simulated_counters(), docs/validation.md "The prediction: the simulator").
//
// The machine is configured as this host runs the guest: the VMM's three memslots
// (vm.layout; the data slot's :memfd for a memfd backing), host.thp for the data slot's
// MADV_HUGEPAGE, the shared zero page (host.zero_page) and the huge zero page as this host's
// transparent_hugepage/use_zero_page says (host.thp_zero_page), shmem fault-around as its
// fault_around_bytes (host.fault_around_bytes), no swap, KVM's shadow MMU with unsync pages, cached
// roots, prefetch, the zap of every shadow page when a memslot goes (shadow.memslot_zap = all), and
// KVM's default shadow-page limit for these memslots (shadow.max_pages = 0). The guest's page
// tables are the VMM's own (ShadowMachine::load_guest_memory and adopt_address_space: a guest
// image), so the simulator walks the very tables KVM walks. The replay of a command list follows
// the guest code: the code page is fetched, each command word is read from the list, then the
// command runs (a load, a store, a load and a store, a PTE store through the identity map, INVLPG
// or a CR3 write in the CPL 0 handler, which is fetched again).
//
// Two vCPUs (Scenario::vcpus): vm.vcpus = 2, and each guest phase runs on its vCPU
// (ShadowMachine::switch_cpu: its root and prev_roots, its current CR3); KVM's shadow pages
// are the VM's. A phase's counters are the machine's over it, all of the one vCPU that ran
// it (or of the host's event): the vCPUs run one at a time, as the VMM runs them.
//
// It runs every scenario; the kernel-rules model (kvm_model.h) predicts beside it, a second
// opinion the report prints.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "validate/host_info.h"
#include "validate/kvm_stats.h"
#include "validate/machine.h"
#include "validate/scenario.h"

namespace pagesim::shadow {
class ShadowMachine;
}

namespace pagesim::validate {

// The KVM counters the simulator predicts: every counter the kernel-rules model predicts
// (predicted_counters()) and more (emulation, guest PTE writes, flooding, INVLPG and CR
// writes, major faults), each from the statistics named in sim_predictor.cc.
const std::vector<std::string>& simulated_counters();

class SimulatorPredictor {
 public:
  // `host`: the host kernel's settings the machine takes (HostInfo's memory settings;
  // Linux's defaults unless given).
  SimulatorPredictor(const Scenario& s, const GuestLayout& layout, const HostInfo& host = {});
  ~SimulatorPredictor();

  // Replays the warm-up (not reported), then each phase; returns each phase's predicted
  // counters (simulated_counters()).
  std::vector<Counters> predict(const std::vector<PhaseInfo>& phases);

  // The pagesim configuration used, as `--set` assignments (for the report).
  const std::vector<std::string>& settings() const { return m_settings; }

 private:
  using Snapshot = std::map<std::string, std::uint64_t>;
  Snapshot snapshot() const;
  void run_commands(const CommandList& l);
  void touch(Gva gva, bool write);
  void fetch_code();  // an instruction fetch of the guest loop (run_commands)
  void cr3_write(Gpa root);
  void madvise(const ReclaimAction& r);
  void memslot_readd();

  const Scenario& m_s;
  const GuestLayout& m_layout;
  std::vector<std::string> m_settings;
  std::unique_ptr<shadow::ShadowMachine> m_machine;
  std::uint16_t m_pcid = 0;  // the current vCPU's address space
  // With two vCPUs (vm.vcpus = 2): each vCPU's address space, the current one's in m_pcid.
  std::vector<std::uint16_t> m_cpu_pcid;
  unsigned m_cpu = 0;
  void switch_cpu(unsigned cpu);
  std::uint64_t m_invlpgs = 0, m_cr3_writes = 0;  // commands of the phase replayed
};

}  // namespace pagesim::validate
