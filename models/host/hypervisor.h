// The hypervisor model: KVM's TDP MMU fault-in path and the VMM process's memory.
//
// The fault-in path of a guest-physical page (docs/design-nested.md, "Memory slots and the
// hypervisor"; seed 000's "day in the life of a KVM guest physical page"):
//
//   guest access, no EPT leaf -> EPT violation: VM exit           vmexits.total
//   kvm_mmu_page_fault -> kvm_tdp_page_fault                      vmexits.ept_violation
//     memslot of the GPA (none: an MMIO exit, emulated)           vmexits.mmio
//     HVA = slot.hva + (gpa - slot.base)           (__gfn_to_hva_memslot)
//     kvm_faultin_pfn -> GUP: the VMM page mapped? else a host page fault through HostOs
//                                                                 host.page_faults
//     kvm_mmu_max_mapping_level: the largest EPT leaf that the host mapping, the slot's
//       GPA/HVA congruence and the slot's bounds all allow
//     kvm_tdp_mmu_map: install the leaf (tables top-down)         ept.violations
//   VM entry
//
// Cost of one violation: vmexit.latency + vmexit.ept_violation_latency, plus the host
// fault's cost (host.page_fault_latency, and zeroing for a huge host page) when there was
// one. An MMIO exit: vmexit.latency + vmexit.mmio_latency, nothing mapped.
//
// Leaf size (KVM's kvm_mmu_max_mapping_level, arch/x86/kvm/mmu/mmu.c, and the lpage_info
// "disallow_lpage" marks that __kvm_set_memory_region puts on a slot's unaligned head and
// tail): an EPT leaf of size S for a GPA needs
//   - a host page of at least S mapping the HVA (host.thp = 2m or 1g),
//   - (slot.base - slot.hva) a multiple of S (GPA and HVA congruent modulo S),
//   - the S-aligned GPA range around the GPA wholly inside the slot,
//   - no smaller EPT leaf inside that range. An emptied table there (a zap leaves tables
//     behind) is no obstacle: EptTables::map replaces it by the huge leaf and unlinks it,
//     as KVM's handle_removed_pt does (ept.tables_freed). KVM would also zap smaller
//     leaves still present and install the huge one; here such leaves keep the range at
//     the smaller size (EptTables refuses to zap them; slots do not overlap and host.thp
//     is fixed, so within one slot they do not arise today).
// Tried 1 GiB, then 2 MiB, else 4 KiB.
//
// Rights: RWX leaves, except in a read-only slot (KVM_MEM_READONLY): R and X without W, as
// KVM's make_spte drops ACC_WRITE_MASK for such a slot. A write violation there, with or
// without a leaf, is an MMIO exit (emulated; nothing mapped).
//
// The VMM process (QEMU): one address space of a HostOs (stats "host", asid kVmmAsid,
// 4-level host paging, pages of host.thp) whose guest RAM block is one allocation at
// kRamBase (0x7f00'0000'0000, 1 GiB aligned), laid out by qemu_pc_layout (slots 0, 1, 2).
// Memory hot-added by add_memslot gets fresh HVA space above the RAM block, each
// allocation 2 MiB aligned (QEMU_VMALLOC_ALIGN on x86-64 Linux, qemu_ram_mmap).
// Host frames come from the host FrameAllocator as HostOs takes them: host page-table pages
// ascend from the bottom, guest data (and the guest's page-table pages, which are data to
// the host) descend from the top.
//
// Memslot changes (KVM_SET_USER_MEMORY_REGION): delete and move zap the EPT leaves of the
// slot's old GPA range (kvm_arch_flush_shadow_memslot -> kvm_tdp_mmu_zap_leafs; counted in
// ept.zaps by EptTables) and return that range: the caller must flush the TLBs and the 2D
// walker's caches (INVEPT). The VMM pages stay mapped in the host (QEMU keeps the RAM),
// so a moved slot refaults without host faults.
//
// The 2D walker (models/walker/nested_walker.h) raises EPT violations for entries not
// present only and hands the rights back to its caller; NestedMachine::touch turns a write
// through a read-only slot's leaf (W = 0) into handle_ept_violation(gpa, kWrite): an MMIO
// exit.
// vm.vcpus is not read here (one EPT for every vCPU).
// Spurious violations (the leaf already there, as when two vCPUs fault on one page) cost
// the exit only and count in ept.spurious.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/ept/ept_params.h"
#include "models/ept/ept_tables.h"
#include "models/host/guest_memory.h"
#include "models/host/host_params.h"
#include "models/host/kvm_vm.h"
#include "models/host/memslot.h"
#include "models/host/qemu_layout.h"
#include "models/host/vmexit_stats.h"
#include "models/hostmm/host_mm.h"
#include "models/hostmm/mmu_notifier.h"
#include "models/hostmm/vmm_memory.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/os/page_table_os.h"

namespace pagesim::host {

// Statistics: group "ept", beside EptTables' own (installs, zaps, table_pages).
struct EptViolationStats : stats::Group {
  explicit EptViolationStats(stats::Group* parent) : Group(parent, "ept") {}
  stats::Counter violations{*this, "violations", "EPT violations that installed a leaf"};
  stats::Counter spurious{*this, "spurious",
                          "EPT violations on a GPA whose leaf was already installed"};
};

struct ViolationResult {
  enum class Outcome : std::uint8_t {
    kMapped,    // an EPT leaf now maps the GPA
    kMmio,      // the GPA is in no memslot (or a write to a read-only one): emulated
    kSpurious,  // the leaf was there already, or was access-tracked and is restored
  };
  Outcome outcome = Outcome::kMapped;
  Cycles cycles;                  // everything the exit cost, host fault included
  bool host_fault = false;        // a host page fault was taken
  PageSize size = PageSize::k4K;  // kMapped: the EPT leaf's size
  Gpa leaf_base;                  // kMapped: the GPA the leaf starts at
};

class Hypervisor final : public hostmm::MmuNotifier {
 public:
  // Where the VMM keeps the guest RAM block.
  static constexpr Hva kRamBase{0x7f0000000000};
  // Alignment of every further VMM allocation (hot-added memory).
  static constexpr std::uint64_t kHvaAlign = 2 * kMiB;
  // The VMM process's address space in HostOs.
  static constexpr std::uint16_t kVmmAsid = hostmm::VmmMemory::kAsid;

  // `memory`, `frames` and `mm` are the host's and must outlive this. Statistics go under
  // `parent`: "vmexits", "ept" (violations; EptTables adds installs, zaps, table_pages),
  // "host" (the HostOs); the VM's reclaim counters to "vm<i>" under `vm_stats_parent`
  // (null: `parent`). Throws std::invalid_argument for a bad vm.memory or ept.levels.
  Hypervisor(const VmParams& vm, const VmExitParams& exits, const os::OsParams& host,
             const ept::EptParams& ept, mem::PhysicalMemory& memory, mem::FrameAllocator& frames,
             hostmm::HostMm& mm, stats::Group* parent, stats::Group* vm_stats_parent = nullptr);
  Hypervisor(const Hypervisor&) = delete;
  Hypervisor& operator=(const Hypervisor&) = delete;

  // An EPT violation on `gpa` (from the 2D walker or the guest's own table accesses):
  // see the file comment.
  ViolationResult handle_ept_violation(Gpa gpa, AccessKind kind);

  // `!memslot add <id> <gpa> <size> [ro]`: new memory, its HVA range allocated above
  // everything the VMM has (kHvaAlign aligned). Nothing is mapped yet. Throws MemslotError
  // as MemslotTable::add does (the HVA cursor is unchanged then).
  const Memslot& add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                             bool readonly = false);
  // `!memslot del <id>`: removes the slot, zaps its EPT leaves, returns its GPA range.
  GpaRange remove_memslot(std::uint32_t id);
  // `!memslot move <id> <new-gpa>`: rebases the slot, zaps the leaves of its old GPA range
  // and returns that range.
  GpaRange move_memslot(std::uint32_t id, Gpa new_base);

  // The EPTP's (nCR3's) table.
  Hpa ept_root() const { return m_ept.root(); }
  const ept::EptTables& ept() const { return m_ept; }
  const MemslotTable& memslots() const { return m_slots; }
  const os::HostOs& host_os() const { return m_vmm.host_os(); }
  // The VMM process's memory as the host manages it (faults, refaults, madvise).
  hostmm::VmmMemory& vmm() { return m_vmm; }

  // The host's mmu_notifier calls on the VMM's HVAs (hostmm/mmu_notifier.h): the HVA range
  // becomes GPA ranges through the memslots; aging reads and clears the EPT leaves' A
  // flags (EptTables::age), invalidation zaps the leaves (ept.zaps) and, when one was
  // there, calls the flush hook (the owner flushes the walker's caches: INVEPT) and reports
  // the flush (the TLBs of every vCPU).
  bool test_young(Hva begin, Hva end) override;
  bool clear_young(Hva begin, Hva end) override;
  hostmm::InvalidateResult invalidate_range(Hva begin, Hva end) override;
  // Called after any zap of EPT leaves by the host (invalidation, aging without A/D bits).
  void set_flush_hook(std::function<void()> hook) { m_flush_hook = std::move(hook); }
  GuestPhysicalMemory& guest_memory() { return m_guest_memory; }
  // The guest's RAM as its E820 map lists it, for the guest frame allocator.
  std::vector<mem::RamRange> guest_ram_ranges() const;
  // The HVA the VMM has for `gpa`, or nullopt when no slot holds it.
  std::optional<Hva> hva_of(Gpa gpa) const {
    const Memslot* slot = m_slots.find(gpa);
    return slot != nullptr ? std::optional<Hva>(slot->to_hva(gpa)) : std::nullopt;
  }

  const VmExitStats& exit_stats() const { return m_exit_stats; }
  const EptViolationStats& violation_stats() const { return m_violation_stats; }

  // The guest sends a TLB shootdown's IPIs to `targets` other vCPUs: the VM exits that takes
  // (host::send_ipis, kvm_vm.h), counted in vmexits.ipi.
  IpiExitCost send_ipis(unsigned targets) {
    return host::send_ipis(m_vm, m_exits, targets, m_exit_stats);
  }

 private:
  // The largest EPT leaf allowed for `gpa` in `slot` over a host page of `host_size`
  // (host::max_mapping_size, with no smaller EPT leaves there yet).
  PageSize max_mapping_size(const Memslot& slot, Gpa gpa, PageSize host_size) const;

  VmParams m_vm;
  VmExitParams m_exits;
  VmExitStats m_exit_stats;
  EptViolationStats m_violation_stats;
  MemslotTable m_slots;
  hostmm::VmmMemory m_vmm;
  ept::EptTables m_ept;
  std::function<void()> m_flush_hook;
  GuestPhysicalMemory m_guest_memory;
  std::uint64_t m_next_hva;  // where the next VMM allocation goes
};

}  // namespace pagesim::host
