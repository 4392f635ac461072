// The top of the SystemC tree. native mode:
//
//   core --tlb_port--> tlb (L1i, L1d, STLB)
//   core --walker_socket--> native (the walker and the OS, page faults resolved inside:
//                           models/machine/machine_module.h) --direct calls--> memory
//                           (caches + physical memory; page tables in memory)
//   core --machine_port--> native (machine::Machine: CR3 loads, invalidations, PTE writes,
//                          teardown, --check)
//
// nested mode (a guest on a host):
//
//   core --tlb_port--> tlb (entries GVA -> HPA, tagged by VPID and PCID)
//   core --walker_socket--> nested (the 2D walker, guest kernel, hypervisor, host kernel:
//                           models/machine/machine_module.h) --direct calls--> memory
//   core --machine_port--> nested (invalidations, memslot changes, --check)
//
// shadow mode (a guest on a host without EPT/NPT):
//
//   core --walker_socket--> shadow (KVM's shadow MMU, the hardware walker over the shadow
//                           tables, guest kernel, VMM memory:
//                           models/machine/machine_module.h) --direct calls--> memory
//   core --machine_port--> shadow (CR3 writes, INVLPG, PTE writes, teardown, memslots)
//
// Statistics: tlb.*, cache.* (inside memory), sim.* (the core), and the machine's (its
// module named after the mode): walker.*, os.* (native); nested mode has guest.*, host.*,
// ept.*, vmexits.* instead of os.*; shadow mode guest.*, host.*, shadow.*, vmexits.*.
//
// Several CPUs (cores = N in native mode, vm.vcpus = N in nested mode): one TLB module per
// CPU (tlb_cpu<i>, tlb_vm<v>_cpu<i>), bound to tlb_port VM-major; CPU i's TLB statistics are
// cpu<i>.tlb.* (vm<v>.cpu<i>.tlb.*), beside the core's cpu<i>.sim.*; the walker's counters
// stay the VM's totals.
//
// Several VMs (vms > 1, nested or shadow): one TLB module per VM (each VM's vCPU runs on a
// core of its own: tlb_vm<i>, bound to the core's multi-port tlb_port in VM order) and one
// machine per VM inside the translator; VM i's statistics are vm<i>.tlb.*, vm<i>.walker.*,
// vm<i>.guest.*, ... and the core's per-VM vm<i>.sim.*; host.*, mmu_notifier.*,
// tlb.shootdowns, cache.* and the sim.* totals stay at the top.
#pragma once

#include <functional>
#include <memory>
#include <systemc>
#include <vector>

#include "base/stats/stats.h"
#include "base/tlm/cycle_clock.h"
#include "models/cache/cache_module.h"
#include "models/machine/machine_module.h"
#include "models/tlb/tlb_module.h"
#include "sim/core_module.h"
#include "sim/machine_params.h"
#include "sim/page_life.h"
#include "sim/sim_params.h"

namespace pagesim {

class Top final : public sc_core::sc_module {
 public:
  // `page_life` (may be null) follows one page (--trace-page).
  Top(sc_core::sc_module_name name, const SimParams& params, traces::TraceReader& trace,
      std::function<void(std::uint64_t)> progress, PageLife* page_life = nullptr);

  stats::Group& stats_root() { return m_stats_root; }
  CoreModule& core() { return m_core; }

 private:
  const SimParams& m_params;
  CycleClock m_clock;
  stats::Group m_stats_root{nullptr, ""};
  // vms > 1: each VM's group (vm<i>); else empty.
  std::vector<std::unique_ptr<stats::Group>> m_vm_groups;
  cache::CacheModule m_memory;
  // cpus > 1: each CPU's group (cpu<i>, under its VM's group); else empty.
  std::vector<std::unique_ptr<stats::Group>> m_cpu_groups;
  // One per CPU of each VM, VM-major (native: one per core).
  std::vector<std::unique_ptr<tlb::TlbModule>> m_tlbs;
  // native
  std::unique_ptr<NativeMachineModule> m_native;
  // nested
  std::unique_ptr<NestedMachineModule> m_nested;
  // shadow
  std::unique_ptr<ShadowMachineModule> m_shadow;
  CoreModule m_core;
};

}  // namespace pagesim
