// The memory of one VMM process (QEMU) as the host kernel manages it: its page table
// (HostOs: guest RAM is ordinary anonymous memory, demand-paged), the swap entries of its
// evicted pages, and the secondary MMU KVM registered on it (mmu_notifier). The hypervisor
// (nested mode) and the shadow VMM reach guest RAM through fault_in(), which is where a
// host fault, a refault and a swap-in happen; the host's reclaimer (HostMm) evicts through
// evict().
//
//   fault_in(hva): resident? -> the page.
//     else: HostMm::reserve (direct reclaim, kswapd), the host fault (HostOs), then if the
//     page was evicted: a refault (host.refaults, vm<i>.refaults), its contents read back
//     from swap when it was swapped (host.swap.ins, swap_in_latency per 4 KiB); a page
//     dropped by MADV_DONTNEED or the balloon comes back zero-filled. The page goes to the
//     head of the inactive list.
//     With host.zero_page, map_zero_page() is the read fault of a page never written: the
//     shared zero page, read-only, not on the LRU; fault_in() of such a page (a store) is
//     the copy-on-write fault: invalidate_range of the page first (wp_page_copy's
//     mmu_notifier call), then a new page as above. In a range the host maps with 2 MiB
//     pages (host.thp=2m) and with host.thp_zero_page (transparent_hugepage/use_zero_page),
//     the read maps the huge zero page instead, one PMD for the 2 MiB
//     (do_huge_pmd_anonymous_page -> mm_get_huge_zero_page, set_huge_zero_folio): one
//     minor fault, every page of the 2 MiB reading zeros. A store anywhere in it allocates
//     the huge page (do_huge_pmd_wp_page -> do_huge_zero_wp_pmd, Linux 6.13 and later: the
//     folio first, then one invalidation over the 2 MiB, then the PMD replaced); when no
//     2 MiB frame is free, the PMD is split instead (__split_huge_pmd ->
//     __split_huge_zero_page_pmd: the invalidation over the 2 MiB, 512 PTEs of the small
//     zero page) and the store copies its own 4 KiB page (wp_page_copy: one more
//     invalidation), the rest still reading the zero page.
//   evict(page): needs swap room unless clean; invalidate_range through the notifier (the
//     secondary MMU zaps and flushes; each vCPU shot down); written to swap if dirty (never
//     swapped, written since, or holding contents), else dropped; the host PTE cleared and
//     the frame freed.
//
// A page's swap entry stays after a swap-in (Linux's swap cache), so evicting it again
// while clean writes nothing.
//
// Shared memory (add_shmem: a memfd the VMM maps MAP_SHARED, vm.backing=memfd) differs
// where Linux's shmem differs from anonymous memory:
//   - its pages live in the page cache, 4 KiB each (shmem_enabled=never, Debian's default):
//     a page the VMM unmapped (MADV_DONTNEED, or reclaim that could not write it) stays
//     resident, on the LRU, with its contents; the next touch maps it again, a minor fault
//     with nothing allocated or cleared (shmem_fault finding the folio);
//   - a read of a page never written allocates one (no shared zero page);
//   - a read fault first maps the pages the page cache holds in the aligned block of
//     host.fault_around_bytes (64 KiB) around it, within the mapping (do_read_fault ->
//     do_fault_around -> filemap_map_pages), each without a fault of its own; a write
//     fault maps its page alone (do_shared_fault);
//   - reclaim unmaps a page before it writes it (try_to_unmap, then shmem_writeout): with
//     no swap room the page stays in the page cache, unmapped; an unmapped page is written
//     without an invalidation; a page read back from swap loses its swap copy
//     (shmem_swapin_folio frees the entry and dirties the page);
//   - MADV_REMOVE punches a hole (shmem_fallocate: one invalidation over the range, the
//     pages and their swap entries freed; the next touch allocates zeros); MADV_FREE is
//     refused (it is for private anonymous memory), as MADV_REMOVE is on anonymous memory.
//
// Statistics: "vm<i>" under the given group (i = the owner index HostMm gave):
// refaults, swap_ins, swap_outs, reclaimed, dropped, shootdowns, shootdown_cycles,
// host_wait_cycles.
#pragma once

#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/hostmm/host_mm.h"
#include "models/hostmm/mmu_notifier.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/os/page_table_os.h"

namespace pagesim::hostmm {

struct VmmStats : stats::Group {
  VmmStats(stats::Group* parent, std::string name) : Group(parent, std::move(name)) {}
  stats::Counter refaults{*this, "refaults",
                          "host faults on pages evicted before (reclaim, "
                          "madvise, balloon)"};
  stats::Counter swap_ins{*this, "swap_ins", "4 KiB pages read back from swap"};
  stats::Counter swap_outs{*this, "swap_outs", "4 KiB pages written to swap"};
  stats::Counter reclaimed{*this, "reclaimed", "4 KiB pages of this VM the reclaimer freed"};
  stats::Counter dropped{*this, "dropped",
                         "4 KiB pages freed by madvise DONTNEED or REMOVE and the balloon "
                         "(zero-filled on the next touch)"};
  stats::Counter shootdowns{*this, "shootdowns",
                            "TLB shootdowns of this VM's vCPUs (vCPUs times flushes)"};
  stats::Counter shootdown_cycles{*this, "shootdown_cycles",
                                  "cycles the VM's vCPU lost to shootdowns"};
  stats::Counter host_wait_cycles{*this, "host_wait_cycles",
                                  "cycles the VM's vCPU waited on host memory pressure: direct "
                                  "reclaim, and the host faults and swap-ins of refaults"};
  stats::Counter zero_page_faults{*this, "zero_page_faults",
                                  "read faults that mapped the shared zero page "
                                  "(host.zero_page; a minor fault each)"};
  stats::Counter zero_page_cows{*this, "zero_page_cows",
                                "stores that copied the zero page (wp_page_copy; counted in "
                                "host.page_faults as the page they allocate)"};
  stats::Counter split_zero_pages{*this, "split_zero_pages",
                                  "zero-filled 4 KiB pieces of split huge pages that now map "
                                  "the shared zero page, their frames freed "
                                  "(try_to_map_unused_to_zeropage; host.zero_page)"};
  stats::Counter faulted_around{*this, "faulted_around",
                                "shared-memory pages the page cache held that a read fault "
                                "nearby mapped (fault-around, host.fault_around_bytes; no "
                                "fault of their own)"};
};

// Told what the host does to one watched page (--trace-page: the life of a page).
class HostPageObserver {
 public:
  virtual ~HostPageObserver() = default;
  // The reclaimer aged the page: `young` its accessed flags were set (and are now clear,
  // if `cleared`).
  virtual void host_aged(Hva page, bool young, bool cleared) = 0;
  // The page left memory: `swapped` written to swap (else dropped: clean with a swap copy,
  // or `zeroed`: MADV_DONTNEED / the balloon, read back as zeros); `zapped` secondary-MMU
  // entries went with it.
  virtual void host_evicted(Hva page, Hpa frame, bool swapped, bool zeroed,
                            std::uint64_t zapped) = 0;
  // Shared memory: the VMM's mapping of the page went, `zapped` secondary-MMU entries with
  // it, and the page stayed in the page cache (MADV_DONTNEED, or reclaim without swap).
  virtual void host_unmapped(Hva page, Hpa frame, std::uint64_t zapped) = 0;
  // The page came back at `frame`: a refault, `swap_in` when read back from swap.
  virtual void host_refault(Hva page, Hpa frame, bool swap_in) = 0;
};

// madvise(2)'s EINVAL: advice the memory's kind does not take. The message names the
// advice, the range and why.
class MadviseError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class VmmMemory {
 public:
  // The VMM process's address space in HostOs.
  static constexpr std::uint16_t kAsid = 0;

  // `host`: the host kernel (thp, fault costs); `memory`, `frames`, `mm` are the host's and
  // outlive this. The page table's statistics go to "host" under `parent`, the VM's to
  // "vm<i>" under `vm_stats_parent`. `vcpus`: the VM's vCPUs (shot down on each flush).
  VmmMemory(HostMm& mm, const os::OsParams& host, mem::PhysicalMemory& memory,
            mem::FrameAllocator& frames, stats::Group* parent, stats::Group* vm_stats_parent,
            std::uint32_t vcpus);
  VmmMemory(const VmmMemory&) = delete;
  VmmMemory& operator=(const VmmMemory&) = delete;

  // KVM's notifier (null: none, as for a process without a VM).
  void set_notifier(MmuNotifier* notifier) { m_notifier = notifier; }
  // Watch the host page holding `hva` (null observer: none).
  void watch(Hva hva, HostPageObserver* observer) {
    m_watched = hva.value() >> 12;
    m_observer = observer;
  }

  using Mapping = os::HostOs::Mapping;
  std::optional<Mapping> lookup(Hva hva) const { return m_os.lookup(kAsid, hva); }
  // The page mapping `hva`, faulted in when absent (see the file comment). The cost is
  // added to `cycles`; `host_fault` is set when a fault was taken.
  Mapping fault_in(Hva hva, AccessKind kind, Cycles& cycles, bool& host_fault);

  // ---- The VMM's mappings of guest memory (its VMAs). [begin, end) page-aligned; call
  // before the range is touched. A mapping that begins where one of the same kind ends
  // extends it (vma_merge). A huge page must lie inside one mapping
  // (thp_vma_suitable_order: the aligned range within the VMA), so a fault near a
  // mapping's edge maps the largest page size whose aligned range fits, down to 4 KiB
  // (fault_size_limit). With no mapping added the whole HVA space is one anonymous
  // mapping (unit tests); an address outside every added mapping gets 4 KiB pages.
  //
  // Private anonymous memory (QEMU's RAM block, vm.backing=anon). `thp` false: a mapping
  // that gets no transparent huge pages whatever host.thp says (THP enabled=madvise and no
  // MADV_HUGEPAGE on it, or MADV_NOHUGEPAGE: hugepage_vma_check), 4 KiB pages only; it
  // merges only with a mapping advised alike.
  void add_anon(Hva begin, Hva end, bool thp = true);
  // Shared memory (the file comment): the VMM's memfd mapping.
  void add_shmem(Hva begin, Hva end);
  // The largest page a fault at `hva` may map by its mapping's bounds and advice (1 GiB
  // when no mapping was added).
  PageSize fault_size_limit(Hva hva) const;
  // Whether `hva` lies in shared memory.
  bool shmem(Hva hva) const;
  // Whether `hva`'s shmem page is in the page cache but not mapped by the VMM.
  bool page_cached(Hva hva) const { return m_page_cache.contains(page_of(hva)); }
  // A read fault of shared memory at `hva` maps the page-cache pages around it first
  // (fault-around, host.fault_around_bytes: see fault_around).

  // ---- The shared zero page (host.zero_page: ReclaimParams::zero_page) and the huge zero
  // page (host.thp_zero_page).
  bool zero_page_enabled() const { return m_mm.params().zero_page; }
  // Whether `hva`'s page maps the zero page or the huge zero page (read-only).
  bool zero_mapped(Hva hva) const {
    return m_zero_mapped.contains(page_of(hva)) || m_huge_zero_mapped.contains(huge_of(hva));
  }
  // The zero page that maps `hva`: the 4 KiB zero page's frame, or the huge zero page's
  // 2 MiB frame; nullopt when `hva` maps neither.
  std::optional<Mapping> zero_mapping(Hva hva) const;
  // A read fault of `hva` with the zero page: true when `hva`'s page maps the zero page
  // now (mapped by this call, at host.page_fault_latency added to `cycles` and `host_fault`
  // set, or mapped before); false when it does not apply: zero page off, the page
  // resident, on swap, shared memory, or in a range a fault maps with a huge page while
  // host.thp_zero_page is off (fault_in then). In a range of 4 KiB pages it maps the 4 KiB
  // zero page (do_anonymous_page); in a fresh range the host maps with 2 MiB pages, the
  // huge zero page over the whole 2 MiB (do_huge_pmd_anonymous_page), or the 4 KiB zero
  // page under a new page table when no 2 MiB frame is free for the huge zero page at its
  // first use (mm_get_huge_zero_page failing: VM_FAULT_FALLBACK).
  bool map_zero_page(Hva hva, Cycles& cycles, bool& host_fault);
  // The zero page's frame (allocated at its first use; never freed, never reclaimed).
  Hpa zero_page() const { return m_zero_frame; }
  // The huge zero page's 2 MiB frame (likewise).
  Hpa huge_zero_page() const { return m_huge_zero_frame; }

  // HostMm's eviction of the page at `base` (frame `hpa`, `size`). `direct`: its swap
  // write is waited for (added to `cycles`). False: no swap room for a dirty page.
  bool evict(Hva base, Hpa hpa, PageSize size, bool direct, Cycles& cycles);
  // split_huge_page of the resident 2 MiB page at `base` (host.thp_reclaim=split), the
  // VMM's part: invalidate_range over the 2 MiB (__split_huge_pmd: the secondary MMU zaps
  // its huge leaf; a shootdown), the page's swap copy released (the pieces have none: each
  // is written when it goes), and the huge leaf of the VMM's table split into 512 small
  // ones over the same frames (PageTableOs::split_huge). HostMm splits the frame and the
  // LRU entry.
  void split_huge(Hva base);
  // After a split of the anonymous huge page at `base` into small folios (split_folio:
  // MADV_FREE, COLD and PAGEOUT of part of it, reclaim's split_folio_to_list), once HostMm
  // split its frame and LRU entry: remap_page(..., RMP_USE_SHARED_ZEROPAGE) maps each
  // zero-filled piece (try_to_map_unused_to_zeropage: no store reached it and its words are
  // zero, PhysicalMemory::zero_filled) to the shared zero page, and its frame is freed
  // (__folio_split drops the last reference). With host.zero_page only: the machine
  // tracks stores then (PhysicalMemory::track_stores). MADV_DONTNEED's PMD split
  // (__split_huge_pmd) keeps the folio whole and maps no zero page.
  void map_unused_to_zero_page(Hva base);
  // Notifier passthroughs for the reclaimer's aging (counted by HostMm).
  bool test_young(Hva base, PageSize size);
  bool clear_young(Hva base, PageSize size);

  // madvise(2) on [begin, end) (page-aligned by the caller): DONTNEED zaps and frees every
  // resident page and forgets swapped ones (zero-filled on the next touch), or, in shared
  // memory, unmaps them and leaves them in the page cache; PAGEOUT evicts every mapped
  // page now (shared memory: one by one, each unmapped with its own invalidation, kept in
  // the page cache when swap has no room); COLD moves them to the inactive list with their
  // accessed flags cleared; FREE (private anonymous memory) zaps the secondary MMU's leaves
  // and marks the pages lazily free: they stay mapped and resident, and reclaim drops them
  // without swap unless the guest wrote them again (a dirty or writable leaf at the
  // eviction's invalidation); REMOVE (shared memory) punches a hole: every page and swap
  // entry freed, zero-filled on the next touch. DONTNEED, FREE and REMOVE invalidate the
  // range itself once (mmu_notifier_range_init(start, end)). A 2 MiB page the range covers
  // whole is acted on whole (zap_huge_pmd, madvise_free_huge_pmd, ...); one it covers in
  // part is split first, with an invalidation over its 2 MiB, and only the advised 4 KiB
  // pieces are acted on (zap_pmd_range -> __split_huge_pmd for DONTNEED, split_folio for
  // FREE, COLD and PAGEOUT; the huge zero page splits into small zero pages under
  // DONTNEED and is left alone by the others). A 2 MiB page on swap counts whole when the
  // range covers any of it. A 1 GiB page (host.thp=1g) is acted on only when the range
  // covers all of it: one covered in part is left whole (no 1 GiB split is modelled;
  // hugetlbfs rounds to whole huge pages, madvise_dontneed_free_valid_vma), its secondary
  // MMU leaves in the range zapped by the range's invalidation. Returns the 4 KiB pages it
  // acted on.
  // Throws MadviseError, having done nothing, for FREE on shared memory or REMOVE on
  // anonymous memory (EINVAL).
  enum class Advice : std::uint8_t { kDontneed, kPageout, kCold, kFree, kRemove };
  std::uint64_t madvise(Advice advice, Hva begin, Hva end);
  // The madvise(2) name of `advice`: "MADV_DONTNEED", ...
  static const char* advice_name(Advice advice);

  // The shootdown cycles owed to the replayed vCPU since the last call.
  Cycles take_pending_cycles() {
    const Cycles c = m_pending;
    m_pending = Cycles();
    return c;
  }
  // Whether the VM's TLBs were flushed since the last call (the caller drops its TLB
  // entries of the VM).
  bool take_flush() {
    const bool f = m_flush;
    m_flush = false;
    return f;
  }
  // The hypervisor flushed the VM's TLBs for a reason of its own (a leaf replaced a table):
  // take_flush() reports it with the host's.
  void request_tlb_flush() { m_flush = true; }

  const os::HostOs& host_os() const { return m_os; }
  std::uint8_t owner() const { return m_owner; }
  VmmStats& stats() { return *m_stats; }
  // Pages of this process on swap or dropped (not resident, known to the host).
  std::uint64_t evicted_pages() const { return m_evicted.size(); }

 private:
  std::uint64_t page_of(Hva base) const { return base.value() >> 12; }
  static std::uint64_t huge_of(Hva hva) { return hva.value() >> 21; }
  // The 4 KiB zero page's frame, allocated at its first use.
  Hpa small_zero_frame();
  // The store fault of a page in a range that maps the huge zero page
  // (do_huge_zero_wp_pmd, or its fallback): see the file comment.
  Cycles copy_huge_zero_page(Hva hva, Cycles reclaim_wait);
  // Whether any page of [begin, end) is shared memory, and whether all are.
  bool any_shmem(Hva begin, Hva end) const;
  bool all_shmem(Hva begin, Hva end) const;
  // The size of the page that maps `base`, or that a fault would map: 4 KiB in shared
  // memory, else the VMM page table's slot_size within fault_size_limit.
  PageSize slot_size(Hva base) const;
  // The page's nonzero 4 KiB frames (else empty), zeroed as they are taken: for each, its
  // index in the page then its 512 words. Sparse, so that a huge page holding a few
  // guest page tables costs a few frames, not its whole size (a 1 GiB page would
  // otherwise copy 1 GiB).
  std::vector<std::uint64_t> take_contents(Hpa hpa, PageSize size);
  // Writes contents taken by take_contents back into the page at `hpa`.
  void restore_contents(Hpa hpa, const std::vector<std::uint64_t>& contents);
  void invalidate(Hva begin, Hva end, InvalidateResult& r);
  // do_read_fault -> do_fault_around -> filemap_map_pages for a read fault of the shared
  // memory page holding `hva`: the page-cache pages of the aligned block of
  // host.fault_around_bytes around it (within its mapping), other than the faulting page,
  // mapped without a fault of their own (vm<i>.faulted_around).
  void fault_around(Hva hva);
  // madvise() of part of the 2 MiB at `huge` (host.thp=2m): a resident huge page split
  // (split_huge, then HostMm::split_page), or under MADV_DONTNEED the huge zero page's PMD
  // split into small zero pages; see madvise().
  void split_partly_advised(Hva huge, Advice advice);

  HostMm& m_mm;
  mem::PhysicalMemory& m_memory;
  mem::FrameAllocator& m_frames;
  os::HostOs m_os;
  PageSize m_page_size;
  std::uint32_t m_vcpus;
  Cycles m_zero_fault_latency;  // host.page_fault_latency: mapping the zero page clears nothing
  std::uint8_t m_owner;
  std::unique_ptr<VmmStats> m_stats;
  bool watched(Hva base, PageSize size) const {
    return m_observer != nullptr &&
           (m_watched >> (page_shift(size) - 12)) == (base.value() >> page_shift(size));
  }

  MmuNotifier* m_notifier = nullptr;
  HostPageObserver* m_observer = nullptr;
  std::uint64_t m_watched = 0;                      // HVA page number
  std::unordered_set<std::uint64_t> m_zero_mapped;  // HVA page numbers mapping the zero page
  // HVA 2 MiB page numbers (huge_of) whose PMD maps the huge zero page.
  std::unordered_set<std::uint64_t> m_huge_zero_mapped;
  std::unordered_set<std::uint64_t> m_lazyfree;  // HVA page numbers MADV_FREE'd
  // Huge pages whose PMD MADV_DONTNEED split (__split_huge_pmd) but whose folio Linux
  // keeps whole, mapped by PTEs (HVA 2 MiB number -> the folio's 2 MiB frame; the model
  // split the frame at once). A later MADV_FREE, COLD or PAGEOUT that meets one of its
  // pieces splits the folio (split_folio: madvise_folio_pte_batch covers fewer than its
  // 512 pages), zero-filled pieces mapping the zero page (map_unused_to_zero_page).
  struct PteMappedFolio {
    Hpa frame;                       // the folio's 2 MiB frame: piece i at frame + i * 4 KiB
    std::bitset<512> faulted_since;  // pieces that are pages of their own now
    // Whether `page`, mapping piece i of the 2 MiB range, is still the folio's own piece.
    bool holds(std::uint64_t i, const Mapping& page) const {
      return page.size == PageSize::k4K && !faulted_since[i] && page.page_base == frame + i * 4096;
    }
  };
  std::unordered_map<std::uint64_t, PteMappedFolio> m_pte_mapped_folios;
  Hpa m_zero_frame;
  bool m_have_zero_frame = false;
  Hpa m_huge_zero_frame;
  bool m_have_huge_zero_frame = false;
  // Evicted pages by HVA page number: their swap entry, or 0 when dropped (zero-filled).
  std::unordered_map<std::uint64_t, std::uint64_t> m_evicted;
  // Resident pages with a valid swap copy (the swap cache): HVA page number -> entry.
  std::unordered_map<std::uint64_t, std::uint64_t> m_swap_cache;
  // The mappings (add_anon, add_shmem): HVA page-number ranges [first, last), shared or
  // not, in the order added.
  struct Vma {
    std::uint64_t first;
    std::uint64_t last;
    bool shared;
    bool thp;  // transparent huge pages allowed (add_anon's thp)
  };
  void add_vma(Hva begin, Hva end, bool shared, bool thp);
  std::vector<Vma> m_vmas;
  // Shared memory: its HVA page-number ranges [first, last), and its pages in the page
  // cache that the VMM does not map: HVA page number -> frame.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> m_shmem;
  std::unordered_map<std::uint64_t, Hpa> m_page_cache;
  Cycles m_pending;
  bool m_flush = false;
};

}  // namespace pagesim::hostmm
