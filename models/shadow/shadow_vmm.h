// The VMM side of shadow paging: the VM's memory slots and the VMM process's memory (QEMU's
// RAM block, demand-paged by the host kernel), as host::Hypervisor has them for nested
// paging, without the EPT.
//
//   GPA --memslot--> HVA --VMM page table (HostOs "host", asid kVmmAsid)--> HPA
//
// Layout and addresses as host::Hypervisor's (models/host/hypervisor.h): the slots of
// vm.layout at HVA Hypervisor::kRamBase, hot-added slots in fresh HVA space above everything
// the VMM has, each allocation Hypervisor::kHvaAlign aligned. Host frames come from the
// caller's FrameAllocator as HostOs takes them (VMM tables ascending, guest data descending).
//
// KVM reaches a guest frame through its HVA: __gfn_to_hva_memslot, then hva_to_pfn (GUP,
// faulting the VMM page in: the host's page fault) or, for speculative work (prefetch),
// the atomic variant that never faults (gfn_to_pfn_memslot_atomic). fault_in and resident
// are those two.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "models/host/host_params.h"
#include "models/host/memslot.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/os/page_table_os.h"
#include "sim/access.h"
#include "sim/address.h"
#include "sim/cycles.h"
#include "sim/page_size.h"
#include "sim/stats/stats.h"

namespace pagesim::shadow {

class ShadowVmm {
 public:
  // Where a GPA's data lies on the host.
  struct Backing {
    Hpa hpa;                              // the HPA of the GPA asked for
    PageSize host_size = PageSize::k4K;   // the VMM page that maps it
    const host::Memslot* slot = nullptr;  // valid until the next memslot change
  };

  // `memory` and `frames` are the host's and must outlive this. The VMM's page table gets
  // statistics "host" under `parent`. Throws std::invalid_argument for a bad vm.layout.
  ShadowVmm(const host::VmParams& vm, const os::OsParams& host, mem::PhysicalMemory& memory,
            mem::FrameAllocator& frames, stats::Group* parent);
  ShadowVmm(const ShadowVmm&) = delete;
  ShadowVmm& operator=(const ShadowVmm&) = delete;

  // The backing of `gpa`, the VMM page faulted in by the host when absent (its cost is
  // added to `cycles`, and `host_fault` set). nullopt when no memslot holds the GPA (MMIO).
  std::optional<Backing> fault_in(Gpa gpa, AccessKind kind, Cycles& cycles, bool& host_fault);
  // The backing of `gpa` if its VMM page is resident, never faulting; nullopt otherwise.
  std::optional<Backing> resident(Gpa gpa) const;

  // The largest leaf that may map `gpa` of `slot` over a VMM page of `host_size`: at most
  // the host page, (slot.base - slot.hva) a multiple of the size, the aligned range inside
  // the slot (KVM's kvm_mmu_max_mapping_level and the lpage_info of a slot's unaligned head
  // and tail). Tried 1 GiB, 2 MiB, else 4 KiB.
  static PageSize max_mapping_size(const host::Memslot& slot, Gpa gpa, PageSize host_size);

  // `!memslot add`: a new slot in fresh HVA space (nothing mapped). Throws
  // host::MemslotError as MemslotTable::add does (the HVA cursor unchanged then).
  const host::Memslot& add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                   bool readonly = false);
  // `!memslot del` / `!memslot move`: the slot as it was (its old GPA range is what the
  // shadow MMU must zap). The VMM keeps its pages mapped (QEMU keeps the RAM). Throw
  // host::MemslotError as MemslotTable does.
  host::Memslot remove_memslot(std::uint32_t id) { return m_slots.remove(id); }
  host::Memslot move_memslot(std::uint32_t id, Gpa new_base) { return m_slots.move(id, new_base); }

  const host::MemslotTable& memslots() const { return m_slots; }
  const os::HostOs& host_os() const { return m_host_os; }
  // The guest's RAM as its E820 map lists it (the writable slots at creation).
  std::vector<mem::RamRange> guest_ram_ranges() const;
  // Pages of all memslots (KVM's default shadow-page limit is a share of them).
  std::uint64_t memslot_pages() const;

 private:
  host::MemslotTable m_slots;
  os::HostOs m_host_os;
  std::uint64_t m_next_hva;
};

}  // namespace pagesim::shadow
