// VM exit statistics, group "vmexits": one counter per exit reason the models raise, shared
// by every virtualized mode so that the same names exist in each (a reason a mode never
// raises stays 0: no EPT violations with shadow paging, no CR3-write exits with EPT).
//
// Each reason, who raises it, and what counts it on a real KVM host:
//  - ept_violation: the Hypervisor (nested), no EPT leaf for a GPA. kvm:kvm_page_fault, stat
//    pf_taken.
//  - mmio: both modes, a GPA in no memslot or a write to a read-only slot (emulated).
//    kvm:kvm_mmio; exit reason EPT_MISCONFIG, or a #PF with PFERR_RSVD in shadow mode.
//  - page_fault: shadow paging, a trace access's shadow page fault (no shadow leaf, or a
//    store through a read-only one) that did not end in MMIO. kvm:kvm_page_fault, pf_taken.
//  - wp_write: shadow paging, the guest kernel's store to a write-protected guest page-table
//    page, emulated or making the page unsync. Also kvm:kvm_page_fault and pf_taken on a
//    real host (a #PF on the write-protected mapping), then kvm:kvm_emulate_insn if emulated.
//  - cr3_write: shadow paging, MOV to CR3. kvm:kvm_cr (exit reason CR_ACCESS).
//  - invlpg: shadow paging, INVLPG. Stat invlpg (exit reason INVLPG).
//  - ipi: the guest's IPIs (TLB shootdowns to other vCPUs) without IPI virtualization:
//    one per x2APIC ICR write (WRMSR, exit reason MSR_WRITE: kvm:kvm_msr), or one per PV
//    KVM_HC_SEND_IPI hypercall (vm.pv_send_ipi; kvm:kvm_hypercall).
//  - root_load: shadow paging with shadow.new_root_exit, the VM entry that builds the
//    shadow root a CR3 write left the vCPU without (kvm_mmu_new_pgd found no cached root;
//    kvm_mmu_reload -> kvm_mmu_load), counted in stat exits on kvm_pvm (shadow_params.h).
//
// total is the sum of the reasons; cycles all that the exits and their handling charged.
#pragma once

#include "base/stats/stats.h"

namespace pagesim::host {

struct VmExitStats : stats::Group {
  explicit VmExitStats(stats::Group* parent) : Group(parent, "vmexits") {}
  stats::Counter total{*this, "total", "VM exits of every reason"};
  stats::Counter ept_violation{*this, "ept_violation", "VM exits for EPT violations on RAM"};
  stats::Counter mmio{*this, "mmio", "VM exits for accesses to GPAs in no memslot (MMIO)"};
  stats::Counter page_fault{*this, "page_fault",
                            "VM exits for shadow page faults of the guest's accesses (shadow "
                            "paging; MMIO ones count in mmio)"};
  stats::Counter wp_write{*this, "wp_write",
                          "VM exits for guest writes to write-protected guest page-table pages "
                          "(shadow paging: emulated, or the page goes unsync)"};
  stats::Counter cr3_write{*this, "cr3_write", "VM exits for guest CR3 writes (shadow paging)"};
  stats::Counter invlpg{*this, "invlpg", "VM exits for guest INVLPG (shadow paging)"};
  stats::Counter ipi{*this, "ipi",
                     "VM exits for the guest's IPIs (ICR writes, or PV send-IPI hypercalls; "
                     "none with vm.ipi_virtualization)"};
  stats::Counter root_load{*this, "root_load",
                           "VM exits to build the shadow root a CR3 write found no cached root "
                           "for (shadow paging, shadow.new_root_exit)"};
  stats::Counter cycles{*this, "cycles", "cycles charged for VM exits and their handling"};
};

}  // namespace pagesim::host
