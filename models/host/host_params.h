// Parameters of a virtual machine and of the VM exits the hypervisor model charges.
//
//   vm.memory, vm.vcpus, vm.layout, vm.backing
//                                           VmParams: the guest's RAM, vCPUs, memslots and
//                                           the VMM memory behind them
//   vmexit.latency, vmexit.ept_violation_latency, vmexit.mmio_latency
//                                           VmExitParams: cycles of the exit paths
//   guest.levels, guest.thp, guest.page_fault_latency, guest.clear_page_latency
//                                           GuestParams: the guest kernel (its memory is
//                                           vm.memory)
//   host.thp, host.memory, host.page_fault_latency, host.clear_page_latency
//                                           os::OsParams under the prefix "host": the
//                                           host kernel that demand-pages the VMM process
//
// Costs are core cycles of a ~2.6 GHz server core (the reference machine of os_params.h).
// Each default cites where its order of magnitude comes from and says how sure it is.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "base/config/schema.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "models/os/os_params.h"

namespace pagesim::host {

// The VMM memory behind guest RAM (QEMU's memory backends): private anonymous memory
// (memory-backend-ram) or a memfd it maps shared (memory-backend-memfd: shmem, whose pages
// live in the page cache; hostmm::VmmMemory::add_shmem).
enum class Backing : std::uint8_t { kAnon, kMemfd };

// Where the VMM process keeps the guest RAM block (vm.layout's slots, back to back): HVA
// 0x7f0000000000, 127 TiB (host::Hypervisor::kRamBase, which sim/machine_params.cc checks
// against this). The VMM's page tables are 4-level (hostmm::VmmMemory), mapping HVAs below
// 2^48, so the block holds at most 2^48 - kVmmRamBase bytes: vm.memory's bound, 129 TiB.
inline constexpr std::uint64_t kVmmRamBase = 0x7f0000000000;
inline constexpr std::uint64_t kVmmHvaLimit = std::uint64_t{1} << 48;
inline constexpr std::uint64_t kMaxVmMemoryBytes = kVmmHvaLimit - kVmmRamBase;

struct VmParams {
  // Guest RAM, laid out as QEMU's pc machine does (qemu_layout.h): a multiple of 4 KiB,
  // at least 2 MiB (so RAM exists above the 1 MiB the guest frame allocator skips).
  config::ByteSize memory{4 * kGiB};
  // vCPUs of the VM: each has its own TLBs and walker caches (nested mode), and KVM's
  // remote flushes reach every one.
  std::uint32_t vcpus = 1;
  // IPI virtualization (Intel IPIv, AMD AVIC): a guest's IPI to a running vCPU does not
  // exit. Off: each x2APIC ICR write (one per target in physical destination mode) exits.
  bool ipi_virtualization = false;
  // The guest sends IPIs with KVM's PV hypercall (KVM_FEATURE_PV_SEND_IPI, Linux's
  // kvm_send_ipi_mask -> KVM_HC_SEND_IPI): one exit per multicast, whatever the targets.
  bool pv_send_ipi = false;
  // Host CPUs the vCPUs run on; 0: one each. With fewer than `vcpus`, the host runs the
  // `pcpus` vCPUs that ran records most recently and the others are preempted (KVM marks
  // them KVM_VCPU_PREEMPTED in their steal-time area at vcpu_put).
  std::uint32_t pcpus = 0;
  // The guest flushes preempted vCPUs with KVM's PV TLB flush (KVM_FEATURE_PV_TLB_FLUSH,
  // Linux's kvm_flush_tlb_multi): a flag in the target's steal-time area in place of an
  // IPI; KVM flushes the target's whole TLB when it next enters (record_steal_time ->
  // kvm_vcpu_flush_tlb_guest). Only preempted targets differ: with every vCPU running, the
  // IPIs are the same.
  bool pv_tlb_flush = true;
  // What an IPI to a preempted vCPU costs its sender beyond the handler, without the PV
  // flush: flush_tlb_multi waits for the handler, which runs when the host runs the target.
  Cycles preempted_ipi_wait{3'000'000};
  // The memory slots at creation: "qemu" (QEMU's pc machine for `memory`) or a list of
  // GPA:SIZE[:ro] slots (memslot_layout.h).
  std::string layout = "qemu";
  // The memory behind every slot that vm.layout does not mark :anon or :memfd, and behind
  // memslots a trace adds.
  Backing backing = Backing::kAnon;
  void describe(config::Schema& s);
};

// The guest kernel: its paging levels and the page size its first-touch faults map. Its
// fault costs default to the native kernel's (os_params.h): the same Linux code runs in
// the guest, and the EPT violations its table writes raise are charged on top.
struct GuestParams {
  std::uint32_t levels = 4;  // 4-level paging, or 5 with LA57
  os::Thp thp = os::Thp::kNever;
  Cycles page_fault_latency = os::OsParams{}.page_fault_latency;
  Cycles clear_page_latency = os::OsParams{}.clear_page_latency;
  void describe(config::Schema& s);
  // The guest kernel's OsParams (memory = the VM's RAM).
  os::OsParams os(const VmParams& vm) const {
    os::OsParams p;
    p.thp = thp;
    p.memory = vm.memory;
    p.page_fault_latency = page_fault_latency;
    p.clear_page_latency = clear_page_latency;
    return p;
  }
};

struct VmExitParams {
  // One VM exit and the VM entry back (hardware state save/restore plus KVM's dispatch),
  // the part every exit pays. Order of 1,000+ cycles on recent cores: a KVM_RUN round trip
  // measured around VMRUN on AMD EPYC (lkml, Dec 2020, "KVM: SVM: use vmsave/vmload for
  // saving/restoring additional host state") is ~1,350 cycles between pre- and post-VMRUN;
  // kvm-unit-tests' vmexit "cpuid" test reports the same order on Intel Skylake-class hosts.
  Cycles latency{1200};
  // KVM's handling of an EPT violation beyond the exit itself: kvm_mmu_page_fault ->
  // kvm_tdp_page_fault -> kvm_faultin_pfn (GUP of the HVA, host fault excluded: it is
  // charged by host.page_fault_latency) -> kvm_tdp_mmu_map. An estimate of a few thousand
  // cycles (~1 us), not a measurement.
  Cycles ept_violation_latency{3000};
  // Emulating one MMIO access beyond the exit: KVM's instruction decode, the exit to the
  // VMM's user space (KVM_EXIT_MMIO), QEMU's device model and the return: tens of
  // thousands of cycles (kvm-unit-tests' vmexit "inl_from_qemu" style round trips to
  // QEMU are of that order). An estimate.
  Cycles mmio_latency{20000};
  void describe(config::Schema& s);
};

}  // namespace pagesim::host

template <>
struct pagesim::config::EnumNames<pagesim::host::Backing> {
  static constexpr std::array<std::pair<std::string_view, pagesim::host::Backing>, 2> kNames{
      {{"anon", pagesim::host::Backing::kAnon}, {"memfd", pagesim::host::Backing::kMemfd}}};
};
