#include "sim/machine_params.h"

namespace pagesim {

// The configuration bounds vm.memory and checks vm.layout's HVA block with the VMM's RAM
// base as host_params.h states it; the hypervisor must put the block there.
static_assert(host::Hypervisor::kRamBase.value() == host::kVmmRamBase);

namespace {

// The keys both virtualized machines read: the VM, its exits, the host and guest kernels,
// the (guest or shadow) paging-structure caches.
template <class MachineParams>
MachineParams vm_machine_params(const SimParams& p) {
  MachineParams m;
  m.vm = p.vm;
  m.vmexit = p.vmexit;
  m.host = p.host;
  m.guest = p.guest.os(p.vm);
  m.guest_levels = p.guest.levels;
  m.walker = p.walker;
  m.reclaim = p.reclaim;
  return m;
}

}  // namespace

machine::NativeMachineParams native_machine_params(const SimParams& p) {
  machine::NativeMachineParams m;
  m.walker = p.walker;
  m.levels = p.paging.levels;
  m.os = p.os;
  m.cpus = p.cores;
  return m;
}

host::NestedMachineParams nested_machine_params(const SimParams& p) {
  auto m = vm_machine_params<host::NestedMachineParams>(p);
  m.ept = p.ept;
  m.nested = p.nested_walker;
  return m;
}

shadow::ShadowMachineParams shadow_machine_params(const SimParams& p) {
  auto m = vm_machine_params<shadow::ShadowMachineParams>(p);
  m.shadow = p.shadow;
  return m;
}

}  // namespace pagesim
