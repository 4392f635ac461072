#include "models/host/host_params.h"

#include <optional>
#include <string>

#include "models/host/memslot_layout.h"

namespace pagesim::host {

void VmParams::describe(config::Schema& s) {
  s.field("memory", memory,
          "guest RAM, laid out as QEMU's pc machine (640K-1M hole; PCI hole [3G, 4G) above "
          "3.5 GiB)")
      .limit("a multiple of 4 KiB, at least 2MiB")
      .check([this]() {
        std::optional<std::string> err;
        if (memory.bytes < 2 * kMiB || memory.bytes % (4 * kKiB) != 0) {
          err = "must be a multiple of 4 KiB and at least 2 MiB";
        }
        return err;
      })
      .at_most(static_cast<double>(kMaxVmMemoryBytes), "129TiB",
               "the VMM keeps guest RAM in one block at HVA 0x7f0000000000, and its 4-level "
               "page tables map HVAs below 2^48 (256 TiB)");
  s.field("vcpus", vcpus,
          "virtual CPUs of the VM, 1 to 256: each has its TLBs and walker caches (shadow mode: "
          "its shadow roots) and runs the trace's records after `!cpu N`; KVM's remote TLB "
          "flushes reach every one")
      .range(1, 256);
  s.field("ipi_virtualization", ipi_virtualization,
          "IPI virtualization (Intel IPIv, AMD AVIC): a guest's IPI (a TLB shootdown's) does "
          "not exit; off, each x2APIC ICR write exits (one per target)");
  s.field("pv_send_ipi", pv_send_ipi,
          "the guest sends IPIs with KVM's PV hypercall (KVM_FEATURE_PV_SEND_IPI, "
          "KVM_HC_SEND_IPI): one exit per shootdown, whatever the number of targets "
          "(vm.ipi_virtualization, when on, takes precedence: no exit)");
  s.field("pcpus", pcpus,
          "host CPUs the vCPUs run on, 0 (one each) to 256: with fewer than vm.vcpus the host "
          "runs the vm.pcpus vCPUs that ran records most recently, the others are preempted "
          "(a shootdown's IPI to one waits vm.preempted_ipi_wait, or vm.pv_tlb_flush flags it)")
      .range(0, 256);
  s.field("pv_tlb_flush", pv_tlb_flush,
          "the guest's PV TLB flush (KVM_FEATURE_PV_TLB_FLUSH, Linux's kvm_flush_tlb_multi): "
          "a shootdown flags a preempted target in place of an IPI, and KVM flushes that "
          "vCPU's whole TLB when it runs again; no effect while every vCPU runs (vm.pcpus)");
  s.field("preempted_ipi_wait", preempted_ipi_wait,
          "cycles a shootdown's sender waits, beyond the handlers, when an IPI target is "
          "preempted (vm.pcpus) and vm.pv_tlb_flush is off: until the host runs the target")
      .note(
          "an estimate: of the order of a host time slice (CFS's 0.75-3 ms at 3 GHz is "
          "2-9 million cycles), not a measurement");
  s.field("layout", layout,
          "memory slots at creation: qemu (QEMU's pc machine for vm.memory), or "
          "GPA:SIZE[:ro][:anon|:memfd] slots separated by commas, ids 0, 1, ... in order; the "
          "writable slots' sizes add up to vm.memory")
      .check([this]() { return memslot_layout_error(*this); });
  s.field("backing", backing,
          "the VMM memory behind guest RAM: anon (private anonymous, QEMU's "
          "memory-backend-ram) or memfd (shared memory, memory-backend-memfd: pages stay in "
          "the page cache when unmapped, MADV_REMOVE punches holes, 4 KiB pages only)");
}

void GuestParams::describe(config::Schema& s) {
  const std::string page_fault_key = s.key("page_fault_latency");
  s.field("levels", levels, "guest paging levels: 4, or 5 with LA57 (Intel SDM Vol. 3A, 4.5)")
      .range(4, 5);
  s.field("thp", thp, "page size the guest kernel maps on first touch: never (4 KiB), 2m, 1g");
  s.field("page_fault_latency", page_fault_latency,
          "cycles of a guest first-touch page fault, EPT violations of its table writes "
          "excluded (charged on top)")
      .note("as os.page_fault_latency: the same kernel code runs in the guest");
  s.field("clear_page_latency", clear_page_latency,
          "cycles of the guest zeroing one 4 KiB page, part of guest.page_fault_latency")
      .check([this, page_fault_key]() {
        std::optional<std::string> err;
        if (clear_page_latency > page_fault_latency) {
          err = "must not exceed " + page_fault_key + " (" +
                std::to_string(page_fault_latency.count()) + ")";
        }
        return err;
      });
}

void VmExitParams::describe(config::Schema& s) {
  s.field("latency", latency, "cycles of one VM exit and VM entry round trip, paid by every exit")
      .note(
          "order of 1,000+ cycles: ~1,350 around VMRUN on AMD EPYC (lkml 2020-12, SVM "
          "vmsave/vmload thread); kvm-unit-tests vmexit cpuid on Skylake is of that order. "
          "Fairly sure of the order, not of the figure");
  s.field("ept_violation_latency", ept_violation_latency,
          "cycles of KVM's EPT violation handling beyond the exit (kvm_mmu_page_fault -> "
          "kvm_tdp_mmu_map), host page fault excluded")
      .note(
          "an estimate of ~1 us (a GUP and a TDP MMU install), not a measurement: unsure "
          "within a factor of two");
  s.field("mmio_latency", mmio_latency,
          "cycles of emulating one MMIO access beyond the exit (decode, KVM_EXIT_MMIO to the "
          "VMM, device model, return)")
      .note(
          "tens of thousands of cycles for a round trip to QEMU user space; an estimate, "
          "unsure within a factor of two or three");
}

}  // namespace pagesim::host
