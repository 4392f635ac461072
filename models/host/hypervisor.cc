#include "models/host/hypervisor.h"

#include <algorithm>

#include "models/host/kvm_vm.h"
#include "models/host/memslot_layout.h"
#include "models/paging/ept_entry.h"

namespace pagesim::host {

namespace {

std::uint64_t align_up(std::uint64_t v, std::uint64_t align) {
  return (v + align - 1) & ~(align - 1);
}

}  // namespace

Hypervisor::Hypervisor(const VmParams& vm, const VmExitParams& exits, const os::OsParams& host,
                       const ept::EptParams& ept, mem::PhysicalMemory& memory,
                       mem::FrameAllocator& frames, hostmm::HostMm& mm, stats::Group* parent,
                       stats::Group* vm_stats_parent)
    : m_vm(vm),
      m_exits(exits),
      m_exit_stats(parent),
      m_violation_stats(parent),
      m_slots(memslot_layout(vm, kRamBase)),
      m_vmm(mm, host, memory, frames, parent, vm_stats_parent != nullptr ? vm_stats_parent : parent,
            vm.vcpus),
      m_ept(ept, memory, frames, parent),
      m_guest_memory(*this, m_ept, memory),
      m_next_hva(align_up(kRamBase.value() + vm.memory.bytes, kHvaAlign)) {
  m_vmm.set_notifier(this);
  // The VMM's mappings of the memory behind vm.layout's slots; slots added later go
  // above them.
  for (const VmmMapping& m : vmm_mappings(vm, kRamBase)) {
    if (m.backing == Backing::kMemfd) {
      m_vmm.add_shmem(m.begin, m.end);
    } else {
      m_vmm.add_anon(m.begin, m.end, m.thp);
    }
    m_next_hva = std::max(m_next_hva, align_up(m.end.value(), kHvaAlign));
  }
}

ViolationResult Hypervisor::handle_ept_violation(Gpa gpa, AccessKind kind) {
  ++m_exit_stats.total;
  ViolationResult r;
  const Memslot* slot = gpa.value() < m_ept.gpa_limit() ? m_slots.find(gpa) : nullptr;
  if (slot == nullptr || (slot->readonly && kind == AccessKind::kWrite)) {
    // handle_ept_misconfig / KVM_EXIT_MMIO: emulate the access, map nothing.
    ++m_exit_stats.mmio;
    r.outcome = ViolationResult::Outcome::kMmio;
    r.cycles = m_exits.latency + m_exits.mmio_latency;
    m_exit_stats.cycles += r.cycles.count();
    return r;
  }
  ++m_exit_stats.ept_violation;
  // The leaf is there once the exit returns: only the exit's cost.
  auto leaf_present = [&](const ept::EptMapping& leaf) {
    r.outcome = ViolationResult::Outcome::kSpurious;
    r.cycles = m_exits.latency;
    r.size = leaf.size;
    r.leaf_base = gpa.page_base(page_shift(leaf.size));
    m_exit_stats.cycles += r.cycles.count();
    return r;
  };
  // KVM's fast_page_fault: a leaf marked for access tracking by the host's aging gets its
  // bits back under the exit, with no host fault and no new leaf (restore_acc_track_spte).
  if (const auto leaf = m_ept.restore_access_tracked(gpa)) {
    return leaf_present(*leaf);
  }
  if (const auto leaf = m_ept.lookup_debug(gpa)) {
    ++m_violation_stats.spurious;
    return leaf_present(*leaf);
  }

  // kvm_faultin_pfn: the VMM page behind the GPA, faulted in by the host when absent.
  const Hva hva = slot->to_hva(gpa);
  Cycles cost = m_exits.latency + m_exits.ept_violation_latency;
  const auto host_page = m_vmm.fault_in(hva, kind, cost, r.host_fault);

  // kvm_mmu_max_mapping_level, then kvm_tdp_mmu_map.
  const PageSize size = max_mapping_size(*slot, gpa, host_page.size);
  const Gpa leaf_base = gpa.page_base(page_shift(size));
  const Hpa hpa = host_page.pa_of(slot->to_hva(leaf_base));
  // A read-only slot's leaves lack W (KVM: no write permission for KVM_MEM_READONLY).
  if (m_ept.map(leaf_base, hpa, size, slot->readonly ? ept::kRead | ept::kExecute : ept::kRwx) !=
      0) {
    // A huge leaf replaced an empty table: the walker's caches may still hold the entry
    // that pointed to it. KVM flushes every vCPU (tdp_mmu_map_handle_target_level:
    // kvm_flush_remote_tlbs_gfn, a full INVEPT without a range-flush hook).
    m_vmm.request_tlb_flush();
    if (m_flush_hook) {
      m_flush_hook();
    }
  }
  ++m_violation_stats.violations;

  r.outcome = ViolationResult::Outcome::kMapped;
  r.cycles = cost;
  r.size = size;
  r.leaf_base = leaf_base;
  m_exit_stats.cycles += cost.count();
  return r;
}

PageSize Hypervisor::max_mapping_size(const Memslot& slot, Gpa gpa, PageSize host_size) const {
  // And no smaller EPT leaves there already (an emptied table is no obstacle).
  return host::max_mapping_size(slot, gpa, host_size, [this](Gpa base, std::uint64_t bytes) {
    return !m_ept.maps_any(base, bytes);
  });
}

const Memslot& Hypervisor::add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                       bool readonly) {
  const Memslot slot{
      .id = id, .base = base, .bytes = bytes, .hva = Hva(m_next_hva), .readonly = readonly};
  m_slots.add(slot);  // throws MemslotError, nothing changed
  m_next_hva = align_up(m_next_hva + bytes, kHvaAlign);
  if (m_vm.backing == Backing::kMemfd) {
    m_vmm.add_shmem(slot.hva, slot.hva + bytes);
  } else {
    m_vmm.add_anon(slot.hva, slot.hva + bytes);
  }
  return *m_slots.find_id(id);
}

GpaRange Hypervisor::remove_memslot(std::uint32_t id) {
  const Memslot old = m_slots.remove(id);
  m_ept.unmap(old.base, old.bytes);
  return GpaRange{old.base, old.end()};
}

GpaRange Hypervisor::move_memslot(std::uint32_t id, Gpa new_base) {
  const Memslot old = m_slots.move(id, new_base);
  m_ept.unmap(old.base, old.bytes);
  return GpaRange{old.base, old.end()};
}

bool Hypervisor::test_young(Hva begin, Hva end) {
  bool young = false;
  for_each_gpa_range(m_slots, begin, end, [&](Gpa gpa, std::uint64_t bytes) {
    young = m_ept.age(gpa, bytes, /*clear=*/false).young || young;
  });
  return young;
}

bool Hypervisor::clear_young(Hva begin, Hva end) {
  bool young = false;
  for_each_gpa_range(m_slots, begin, end, [&](Gpa gpa, std::uint64_t bytes) {
    young = m_ept.age(gpa, bytes, /*clear=*/true).young || young;
  });
  // KVM does not flush after clearing A flags (kvm_mmu_notifier_clear_young): a TLB entry
  // keeps the page reachable without setting A again. Access tracking (no A/D bits) makes
  // leaves not present but keeps their frame (EptTables::age): the cached translations
  // stay valid until the invalidation that evicts the page zaps the leaf and flushes.
  return young;
}

hostmm::InvalidateResult Hypervisor::invalidate_range(Hva begin, Hva end) {
  hostmm::InvalidateResult r;
  for_each_gpa_range(m_slots, begin, end, [&](Gpa gpa, std::uint64_t bytes) {
    r.zapped += m_ept.unmap(gpa, bytes, &r.dirty);
  });
  if (r.zapped != 0) {
    // kvm_mmu_notifier_invalidate_range_start -> kvm_unmap_gfn_range, then
    // kvm_flush_remote_tlbs: INVEPT on every vCPU.
    r.flushed = true;
    if (m_flush_hook) {
      m_flush_hook();
    }
  }
  return r;
}

std::vector<mem::RamRange> Hypervisor::guest_ram_ranges() const {
  return host::guest_ram_ranges(m_slots);
}

}  // namespace pagesim::host
