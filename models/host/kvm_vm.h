// KVM's VM-level memory logic that its TDP MMU and its shadow MMU share over one struct
// kvm (virt/kvm/kvm_main.c, arch/x86/kvm/mmu/mmu.c): the host-virtual range a notifier
// names mapped back to guest-physical ranges, the largest leaf a memslot lets either MMU
// map, and the guest's RAM. host::Hypervisor (nested mode) and shadow::ShadowVmm (shadow
// mode) both call these, as KVM's two MMUs call the same functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "models/host/host_params.h"
#include "models/host/memslot.h"
#include "models/host/vmexit_stats.h"
#include "models/mem/frame_allocator.h"

namespace pagesim::host {

// Calls f(Gpa first, std::uint64_t bytes) for each part of the VMM's range [begin, end) that
// a memslot maps, in slot order (kvm_handle_hva_range over the slots, hva_to_gfn_memslot).
// An HVA two slots alias is given once per slot.
template <class F>
void for_each_gpa_range(const MemslotTable& slots, Hva begin, Hva end, F&& f) {
  for (const Memslot& slot : slots.slots()) {
    const std::uint64_t lo = std::max(begin.value(), slot.hva.value());
    const std::uint64_t hi = std::min(end.value(), slot.hva.value() + slot.bytes);
    if (lo < hi) {
      f(slot.to_gpa(Hva(lo)), hi - lo);
    }
  }
}

// The largest leaf that may map `gpa` of `slot` when the VMM's page there is `host_size`
// (kvm_mmu_max_mapping_level and the slot's lpage_info): at most the host page; the slot's
// GPA and HVA congruent modulo the size (a slot whose base and HVA differ in the low bits
// gets no huge leaf); the aligned range inside the slot (its unaligned head and tail get
// none). `free(Gpa base, bytes)` adds the MMU's own condition (the TDP MMU: no smaller
// leaves there yet). Tried 1 GiB, 2 MiB, else 4 KiB.
template <class Free>
PageSize max_mapping_size(const Memslot& slot, Gpa gpa, PageSize host_size, Free&& free) {
  for (const PageSize size : {PageSize::k1G, PageSize::k2M}) {
    const std::uint64_t bytes = page_bytes(size);
    if (bytes > page_bytes(host_size)) {
      continue;  // the host maps the HVA with smaller pages
    }
    if (((slot.base.value() - slot.hva.value()) & (bytes - 1)) != 0) {
      continue;  // GPA and HVA not congruent modulo the size
    }
    const std::uint64_t base = gpa.value() & ~(bytes - 1);
    if (base < slot.base.value() || base + bytes > slot.end().value()) {
      continue;  // the page would reach past the slot
    }
    if (!free(Gpa(base), bytes)) {
      continue;
    }
    return size;
  }
  return PageSize::k4K;
}

inline PageSize max_mapping_size(const Memslot& slot, Gpa gpa, PageSize host_size) {
  return max_mapping_size(slot, gpa, host_size, [](Gpa, std::uint64_t) { return true; });
}

// The guest's RAM as its E820 map lists it (the writable slots; ram_ranges), for the guest
// kernel's frame allocator.
std::vector<mem::RamRange> guest_ram_ranges(const MemslotTable& slots);

// 4 KiB pages over every memslot (KVM's default shadow-page limit is a share of them:
// kvm_mmu_calculate_default_mmu_pages).
std::uint64_t memslot_pages(const MemslotTable& slots);

// The VM exits a guest's TLB shootdown IPIs to `targets` vCPUs take, and their cycles (each
// vmexit.latency), counted in `stats` (vmexits.ipi, total, cycles): none with
// vm.ipi_virtualization (Intel IPIv, AMD AVIC); one KVM_HC_SEND_IPI hypercall with
// vm.pv_send_ipi (Linux's kvm_send_ipi_mask); else one x2APIC ICR write per target (physical
// destination mode: a WRMSR exit each). The guest's APIC is the same under EPT and shadow
// paging, so both machines count them here.
struct IpiExitCost {
  std::uint64_t exits = 0;
  Cycles cycles;
};
inline IpiExitCost send_ipis(const VmParams& vm, const VmExitParams& exits, unsigned targets,
                             VmExitStats& stats) {
  IpiExitCost c;
  if (targets == 0 || vm.ipi_virtualization) {
    return c;
  }
  c.exits = vm.pv_send_ipi ? 1 : targets;
  c.cycles = Cycles(c.exits * exits.latency.count());
  stats.ipi += c.exits;
  stats.total += c.exits;
  stats.cycles += c.cycles.count();
  return c;
}

}  // namespace pagesim::host
