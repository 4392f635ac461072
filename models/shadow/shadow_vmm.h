// The VMM side of shadow paging: the VM's memory slots and the VMM process's memory (QEMU's
// RAM block: anonymous memory, or a memfd's shmem with vm.backing=memfd, that the host
// kernel demand-pages, reclaims and swaps, hostmm::VmmMemory), as host::Hypervisor has them
// for nested paging, without the EPT.
//
//   GPA --memslot--> HVA --VMM page table (VmmMemory's HostOs "host", asid kVmmAsid)--> HPA
//
// Layout and addresses as host::Hypervisor's (models/host/hypervisor.h): the slots of
// vm.layout at HVA Hypervisor::kRamBase, hot-added slots in fresh HVA space above everything
// the VMM has, each allocation Hypervisor::kHvaAlign aligned. Host frames come from the
// caller's FrameAllocator as HostOs takes them (VMM tables ascending, guest data descending).
//
// KVM reaches a guest frame through its HVA: __gfn_to_hva_memslot, then hva_to_pfn (GUP,
// faulting the VMM page in: the host's page fault, or a refault of a page the host evicted,
// read back from swap with its contents) or, for work under the MMU lock (prefetch, syncs,
// INVLPG), the atomic variant that never faults (gfn_to_pfn_memslot_atomic,
// kvm_vcpu_read_guest_atomic). fault_in and resident are those two; fault_in goes through
// VmmMemory::fault_in, where the host reserves memory (direct reclaim, kswapd), and so may
// evict other pages (their secondary-MMU entries zapped through ShadowMmu's notifier)
// before the page is mapped.
//
// peek_u64 reads a word of guest memory as the guest sees it with no side effects, for the
// inspection functions (ShadowMachine::translate_debug, audit): a resident page from host
// memory, an evicted one from a copy of its nonzero contents taken when the host
// invalidated it (save_contents(), called by the notifier before the host takes the page;
// the same words VmmMemory keeps on swap and restores at the refault). A page discarded by
// MADV_DONTNEED or the balloon reads as it was until its next fault (it then reads zeros):
// the notifier cannot tell a discard from an eviction, and the guest's live page tables,
// the only pages with contents, are never ballooned.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/host/host_params.h"
#include "models/host/kvm_vm.h"
#include "models/host/memslot.h"
#include "models/hostmm/host_mm.h"
#include "models/hostmm/vmm_memory.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/os/page_table_os.h"

namespace pagesim::shadow {

class ShadowVmm {
 public:
  // Where a GPA's data lies on the host.
  struct Backing {
    Hpa hpa;                              // the HPA of the GPA asked for
    PageSize host_size = PageSize::k4K;   // the VMM page that maps it
    const host::Memslot* slot = nullptr;  // valid until the next memslot change
    // The VMM page may be written through: false for the shared zero page (host.zero_page)
    // and the huge zero page (host.thp_zero_page: host_size 2 MiB, so a guest's 2 MiB page
    // may map it with a huge leaf), which KVM maps read-only and never prefetches (its
    // atomic GUP asks for FOLL_WRITE).
    bool host_writable = true;
    // This fault_in copied the zero page on write (wp_page_copy): its mmu_notifier
    // invalidation raced KVM's fault, which KVM retries (mmu_invalidate_retry_gfn).
    bool replaced_zero_page = false;
  };

  // `mm`, `memory` and `frames` are the host's and must outlive this. The VMM's page table
  // gets statistics "host" under `parent`, the VM's reclaim counters "vm<i>" under
  // `vm_stats_parent` (null: `parent`); vm.vcpus are shot down on each host flush. Throws
  // std::invalid_argument for a bad vm.layout.
  ShadowVmm(const host::VmParams& vm, const os::OsParams& host, hostmm::HostMm& mm,
            mem::PhysicalMemory& memory, mem::FrameAllocator& frames, stats::Group* parent,
            stats::Group* vm_stats_parent = nullptr);
  ShadowVmm(const ShadowVmm&) = delete;
  ShadowVmm& operator=(const ShadowVmm&) = delete;

  // The backing of `gpa`, the VMM page faulted in by the host when absent (VmmMemory::
  // fault_in: its cost, direct reclaim and swap-in included, is added to `cycles`, and
  // `host_fault` set). nullopt when no memslot holds the GPA (MMIO). The HPA is valid until
  // the next call that may allocate host memory (another fault_in): use it at once.
  std::optional<Backing> fault_in(Gpa gpa, AccessKind kind, Cycles& cycles, bool& host_fault);
  // With host.zero_page, a read (kind R or X) of a VMM page never written maps the shared
  // zero page (VmmMemory::map_zero_page): host_writable false; a store to it copies it.
  // The backing of `gpa` if its VMM page is resident (or maps the zero page), never
  // faulting; nullopt otherwise.
  std::optional<Backing> resident(Gpa gpa) const;
  // The guest's 8-byte word at `gpa` (8-byte aligned) with no side effects (see the file
  // comment); nullopt when no memslot holds the GPA.
  std::optional<std::uint64_t> peek_u64(Gpa gpa) const;
  // The notifier's call before the host unmaps [begin, end): keeps the nonzero contents of
  // its resident 4 KiB pages for peek_u64 (and forgets older copies of the others).
  void save_contents(Hva begin, Hva end);
  // For --check only: whether the guest page `gfn` came back from the host with other
  // contents than it had when it was unmapped, i.e. the host discarded them
  // (MADV_DONTNEED or MADV_REMOVE of its memory, a lazily freed page dropped by reclaim)
  // and the next touch found zeros. Noticed when the page faults back in. KVM is not told
  // of such a change (the mmu_notifier zaps the leaves mapping the gfn, kvm_unmap_gfn_range,
  // not the shadow pages of a guest table in it), so its shadow pages of that table keep
  // what the guest wrote before. The shadow MMU forgets a gfn when it shadows it anew.
  bool contents_lost(std::uint64_t gfn) const { return m_lost_gfns.contains(gfn); }
  void forget_lost_contents(std::uint64_t gfn) { m_lost_gfns.erase(gfn); }
  // `!memslot add`: a new slot in fresh HVA space (nothing mapped), or over the VMM memory
  // at `hva` (a slot added again; the pages there stay as they are). Throws
  // host::MemslotError as MemslotTable::add does (the HVA cursor unchanged then).
  const host::Memslot& add_memslot(std::uint32_t id, Gpa base, std::uint64_t bytes,
                                   bool readonly = false, std::optional<Hva> hva = std::nullopt);
  // `!memslot del` / `!memslot move`: the slot as it was (its old GPA range is what the
  // shadow MMU must zap). The VMM keeps its pages mapped (QEMU keeps the RAM). Throw
  // host::MemslotError as MemslotTable does.
  host::Memslot remove_memslot(std::uint32_t id) { return m_slots.remove(id); }
  host::Memslot move_memslot(std::uint32_t id, Gpa new_base) { return m_slots.move(id, new_base); }

  const host::MemslotTable& memslots() const { return m_slots; }
  const os::HostOs& host_os() const { return m_memory.host_os(); }
  // The VMM process's memory as the host manages it (faults, refaults, madvise, the
  // notifier, the shootdowns owed: take_pending_cycles / take_flush).
  hostmm::VmmMemory& memory() { return m_memory; }
  const hostmm::VmmMemory& memory() const { return m_memory; }
  // The guest's RAM as its E820 map lists it (the writable slots at creation).
  std::vector<mem::RamRange> guest_ram_ranges() const { return host::guest_ram_ranges(m_slots); }
  // Pages of all memslots (KVM's default shadow-page limit is a share of them).
  std::uint64_t memslot_pages() const { return host::memslot_pages(m_slots); }

 private:
  Backing zero_page_backing(Hva hva, const host::Memslot* slot) const;

  host::MemslotTable m_slots;
  mem::PhysicalMemory& m_phys;
  hostmm::VmmMemory m_memory;
  std::uint64_t m_next_hva;
  host::Backing m_backing;  // vm.backing: the memory behind memslots added later
  // save_contents's copies: HVA 4 KiB page number -> its 512 words (nonzero somewhere),
  // for pages not resident now; dropped when the page faults back in.
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> m_saved;
  std::unordered_set<std::uint64_t> m_lost_gfns;  // contents_lost()
};

}  // namespace pagesim::shadow
