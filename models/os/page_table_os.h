// The demand-paging kernel: builds x86-64 page tables in a physical memory and maps a page
// on first touch, as Linux's anonymous-memory fault path does (handle_mm_fault ->
// __handle_mm_fault allocating missing p4d/pud/pmd/pte tables top-down -> do_anonymous_page,
// or do_huge_pmd_anonymous_page with THP).
//
// One template serves three kernels (docs/design-nested.md, "Generalised OS model"):
//
//   PageTableOs<Va, Pa, Memory, Frames>
//   NativeOs = <Gva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>  the machine's kernel
//   HostOs   = <Hva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>  the VMM process's page
//              table: guest RAM is ordinary process memory, an HVA page has no HPA until
//              first touched (host demand paging, 4 KiB or THP 2 MiB pages)
//   GuestOs  = <Gva, Gpa, GuestPhysicalMemory, GuestFrames>           the guest kernel, its
//              tables in guest-physical memory (instantiated by models/host)
//
// Va is the virtual space the tables translate, Pa the physical space the tables live in
// and point to. Memory holds the tables (PageTableMemory below); Frames hands out table
// and data frames (FrameSource below). The entry format is x86-64's in every instance
// (models/paging/pte.h; a guest's entries hold GPAs, the host's HPAs).
//
// Address spaces are numbered by `asid` (the PCID the core runs them under; the host uses
// one for the VMM process). Each has one root table (PML4, or PML5 with 5-level paging), a
// zeroed 4 KiB frame allocated on first use. Host reclaim does not unmap pages yet; the
// kernel's own operations of the trace's events do (unmap, remap, destroy_address_space:
// `!ptewrite <va> unmap|remap`, `!exit <asid>`), writing the entries through Memory so that
// a memory which watches table writes (shadow paging's write protection) sees each one.
// Frames they release stay allocated (the frame allocators have no free list).
//
// What a fault writes (Intel SDM Vol. 3A, 4.5): every entry it makes has P = 1, R/W = 1,
// U/S = 1, A = 0, D = 0 (the walker sets A and D, SDM 4.8); a 2 MiB or 1 GiB leaf also has
// PS = 1; all other bits are 0 (no G, no XD, write-back memory type). New table pages are
// zeroed 4 KiB frames (Memory::zero_frame). The page size is params.thp for every fault
// (the host's alone mixes sizes: small pages of a split range or a THP fallback, and
// handle_small_page_fault for its shmem); a fault where the other size is already mapped
// is a programming error of the model and throws std::logic_error, as does a fault on a
// page already mapped.
//
// Frame order (tests and users rely on it; with mem::BasicFrameAllocator, page-table frames
// ascend from its first byte and data frames of every size descend from the top):
//  - address_space_root(asid), on its first call for `asid` (handle_page_fault calls it),
//    allocates the root: one 4 KiB frame (Frames::allocate_table).
//  - handle_page_fault allocates the missing table pages top-down, one table frame each,
//    from the level below the root to the level above the leaf (4-level, 4 KiB pages:
//    PDPT, PD, PT), then the data frame of the params.thp page size (Frames::allocate).
//  Example: NativeOs, 4-level paging, thp = never, FrameAllocator first byte 1 MiB, memory
//  M bytes. The first fault of a fresh address space takes table frames 0x100 (PML4),
//  0x101 (PDPT), 0x102 (PD), 0x103 (PT) and data frame M/4K - 1; a fault on the next 4 KiB
//  page takes only data frame M/4K - 2.
//
// Cost: page_fault_latency for a 4 KiB page; a huge page adds the zeroing of each further
// 4 KiB, page_fault_latency + (page_bytes / 4 KiB - 1) * clear_page_latency (os_params.h).
// The entry writes and table allocations are part of that cost, not charged separately.
// OsParams::memory is not read here (it sizes the machine, in sim/).
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/page_size.h"
#include "base/stats/stats.h"
#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "models/paging/pte.h"

namespace pagesim::os {

// The address spaces a page table translates from and lives in.
template <class A>
concept VirtualAddress = std::same_as<A, Gva> || std::same_as<A, Hva>;
template <class A>
concept PhysicalAddress = std::same_as<A, Gpa> || std::same_as<A, Hpa>;

// Where page tables live: 8-byte entry reads and writes at a `Pa`, and zeroing a 4 KiB
// frame (`frame_base` 4 KiB aligned). mem::PhysicalMemory is one for Hpa; the guest's
// memory (GPA accesses through the EPT) is one for Gpa.
template <class M, class Pa>
concept PageTableMemory = PhysicalAddress<Pa> && requires(M& m, Pa pa, std::uint64_t value) {
  { m.read_u64(pa) } -> std::same_as<std::uint64_t>;
  { m.write_u64(pa, value) } -> std::same_as<void>;
  { m.zero_frame(pa) } -> std::same_as<void>;
};

// Where frames come from: a 4 KiB page-table frame, and a data frame of a page size
// (naturally aligned), both as `Pa`; both may throw mem::OutOfMemory.
template <class F, class Pa>
concept FrameSource = PhysicalAddress<Pa> && requires(F& f, PageSize size) {
  { f.allocate_table() } -> std::same_as<Pa>;
  { f.allocate(size) } -> std::same_as<Pa>;
};

// Statistics of one kernel, in a group named by its owner: "os" (native), the host's and
// the guest's under their own names, so several coexist in one statistics tree.
struct OsStats : stats::Group {
  OsStats(stats::Group* parent, std::string name) : Group(parent, std::move(name)) {}

  stats::Counter page_faults{*this, "page_faults", "not-present faults handled (first touches)"};
  stats::Counter page_table_pages{*this, "page_table_pages",
                                  "4 KiB page-table pages allocated, roots included"};
  stats::Counter mapped_pages_4k{*this, "mapped_pages_4k", "4 KiB pages mapped"};
  stats::Counter mapped_pages_2m{*this, "mapped_pages_2m", "2 MiB pages mapped"};
  stats::Counter mapped_pages_1g{*this, "mapped_pages_1g", "1 GiB pages mapped"};
  stats::Counter thp_fallbacks{*this, "thp_fallbacks",
                               "faults that found no free 2 MiB frame and mapped 4 KiB "
                               "(thp_fault_fallback)"};
  stats::Counter cycles{*this, "cycles", "cycles charged for page faults"};
};

namespace detail {
// "gva", "hva": the space's name in messages.
template <class Space>
constexpr const char* space_name(Address<Space>) {
  return Space::kName;
}
// Cold paths, out of line and shared by every instance (page_table_os.cc).
[[noreturn]] void throw_mapped_by_other_size(const std::string& owner, const char* space,
                                             std::uint64_t va, std::uint16_t asid, PageSize mapped,
                                             PageSize thp);
[[noreturn]] void throw_already_mapped(const std::string& owner, const char* space,
                                       std::uint64_t va, std::uint16_t asid, bool by_smaller,
                                       PageSize thp);
}  // namespace detail

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
class PageTableOs {
 public:
  // A page mapped in the tables: its base in the physical space and its size.
  struct Mapping {
    Pa page_base;
    PageSize size = PageSize::k4K;
    // The physical address of `va`, which lies in this page.
    Pa pa_of(Va va) const { return page_base + va.page_offset(page_shift(size)); }
    bool operator==(const Mapping&) const = default;
  };

  // `levels`: 4, or 5 with LA57 (else std::invalid_argument). Statistics go to a group
  // `stats_name` under `parent` (may be dotted: "host.os"). `memory` and `frames` must
  // outlive the model and describe the same physical memory.
  PageTableOs(const OsParams& params, unsigned levels, Memory& memory, Frames& frames,
              stats::Group* parent, std::string stats_name = "os")
      : m_params(params),
        m_page_size(thp_page_size(params.thp)),
        m_memory(memory),
        m_frames(frames),
        m_stats(parent, std::move(stats_name)),
        m_levels(paging::pte::checked_levels(levels, m_stats.name() + ": paging levels")) {}

  PageTableOs(const PageTableOs&) = delete;
  PageTableOs& operator=(const PageTableOs&) = delete;

  // The root table of address space `asid` (what CR3 points to), allocated on first use.
  Pa address_space_root(std::uint16_t asid) {
    if (asid >= m_roots.size()) {
      m_roots.resize(std::size_t{asid} + 1, kNoRoot);
    }
    if (m_roots[asid] == kNoRoot) {
      m_roots[asid] = allocate_table().value();
    }
    return Pa(m_roots[asid]);
  }

  // A not-present fault on `va` in address space `asid`: maps the params.thp-sized page
  // that holds it (with enable_huge_page_splitting: a 4 KiB page when no 2 MiB frame is
  // free, or in a range split_huge split) (table
  // pages first, top-down, then the data frame; see the file comment) and returns the fault's cost
  // in cycles. `kind` does not change what is mapped: every first touch gets a private zeroed frame
  // with R/W = 1 (Linux would map the shared zero page read-only on a read fault; not modelled).
  // Throws mem::OutOfMemory when memory runs out, std::logic_error when the page is already mapped,
  // by this or another page size. `largest`: the largest page the fault may map there, for a
  // caller that knows the mapping's bounds (a huge page must lie inside its VMA:
  // thp_vma_suitable_order); params.thp's size when larger.
  Cycles handle_page_fault(std::uint16_t asid, Va va, AccessKind kind,
                           PageSize largest = PageSize::k1G);
  // A not-present fault on `va` that maps a 4 KiB page whatever params.thp says: a range
  // the kernel maps with small pages only (shmem under shmem_enabled=never, the host's
  // memfd memory). `cached`: the page's frame when the page cache holds it already
  // (shmem_fault finding the folio: a minor fault, nothing allocated or cleared); else a
  // fresh zeroed frame as handle_page_fault. Missing tables are allocated as there (a PT
  // under a PD entry that has none); the cost is page_fault_latency. Throws as
  // handle_page_fault when `va` is mapped, or a 2 MiB leaf covers it.
  Cycles handle_small_page_fault(std::uint16_t asid, Va va, std::optional<Pa> cached);
  // A 4 KiB page mapped at `frame` beside a fault, not by one (fault-around: Linux's
  // filemap_map_pages maps page-cache pages near a read fault): the tables as
  // handle_small_page_fault makes them, the leaf, counted in mapped_pages_4k but not in
  // page_faults nor cycles. Throws as handle_small_page_fault when `va` is mapped.
  void map_page_near_fault(std::uint16_t asid, Va va, Pa frame);

  // The page that maps `va` in address space `asid`, by a software walk of the tables as
  // they are (KVM's hva_to_pfn / GUP for the host instance): no side effects, no
  // statistics, no A/D bits, no root allocated. nullopt when some entry on the way is not
  // present or `asid` has no root yet.
  std::optional<Mapping> lookup(std::uint16_t asid, Va va) const;
  bool is_mapped(std::uint16_t asid, Va va) const { return lookup(asid, va).has_value(); }
  // The size of the page that maps `va`, or that a fault on it would map now: 4 KiB in a
  // range split_huge split (a table under the huge slot), else params.thp's size. No side
  // effects. (A THP fallback is not foreseen: it depends on free memory.)
  PageSize slot_size(std::uint16_t asid, Va va) const {
    if (const auto page = lookup(asid, va)) {
      return page->size;
    }
    const std::optional<Leaf> table = find_table(asid, va, pagesim::leaf_level(m_page_size));
    return table ? PageSize::k4K : m_page_size;
  }

  // ---- The guest kernel's own changes to mapped pages (trace events), each entry written
  // with Memory::write_u64 in the order Linux writes it. None is counted in OsStats and none
  // charges cycles here: the cost is the memory's (write-protection exits in shadow mode).

  // `!ptewrite <va> unmap`: clears the leaf entry that maps `va` (Linux zap_pte_range /
  // zap_huge_pmd: ptep_get_and_clear, one write of 0) and returns the mapping it removed;
  // nullopt, and nothing written, when `va` is not mapped. The tables stay, and the data
  // frame is not freed.
  std::optional<Mapping> unmap(std::uint16_t asid, Va va);

  // `!ptewrite <va> remap`: points the leaf that maps `va` at a fresh data frame of the same
  // size (as a copy-on-write break or a page migration: the same virtual page, a new frame)
  // and returns the new mapping; nullopt, and nothing allocated or written, when `va` is
  // not mapped. One write: the new leaf with the flags of a first-touch fault (P, R/W, U/S,
  // PS for a huge page; A = D = 0). The old frame is not freed. Throws mem::OutOfMemory
  // (nothing written) when no frame is left.
  std::optional<Mapping> remap(std::uint16_t asid, Va va);

  // The huge leaf that maps `va` split into a table of small pages over the same frames
  // (Linux __split_huge_pmd: a PMD becomes a PTE table of 512 entries; the entries keep the
  // leaf's A and D flags): one table allocated and filled, then the leaf rewritten to point
  // at it. Returns false, and changes nothing, when `va` is not mapped by a 2 MiB leaf.
  // Later faults in the range map 4 KiB pages into that table (a split range is never
  // collapsed back: khugepaged is not modelled).
  bool split_huge(std::uint16_t asid, Va va);
  // An empty page table (PT) for the 2 MiB range holding `va`, where the PMD entry is none
  // (Linux pte_alloc, as do_anonymous_page does when it maps a 4 KiB page in a huge range:
  // a THP fault fallen back, or the host's zero page mapped outside these tables): the
  // missing tables above it allocated as handle_page_fault does, top-down, then the PT.
  // Faults in the range map 4 KiB pages into it from then on (slot_size() is 4 KiB).
  // Returns false, and changes nothing, when the PMD entry is present (a table or a leaf).
  bool add_pte_table(std::uint16_t asid, Va va);
  // The page table (PT) of the 2 MiB range holding `va` detached when every entry in it is
  // none (Linux try_to_free_pte under CONFIG_PT_RECLAIM: pmd_clear, the table freed): the
  // PMD entry written 0, so a fault there maps params.thp's size again. The table frame is
  // not freed (table frames never are here). Returns false, and changes nothing, when the
  // PMD entry is not a table or the table has a present entry.
  bool free_empty_pte_table(std::uint16_t asid, Va va);
  // The host kernel under reclaim (hostmm::VmmMemory) turns on what goes with split_huge:
  // faults in a split range map 4 KiB pages, and a fault that finds no free 2 MiB frame
  // falls back to a 4 KiB page (thp_fallbacks). Off (the native and guest kernels), such a
  // fault is a std::logic_error or a mem::OutOfMemory, as documented above.
  void enable_huge_page_splitting() { m_splits_huge = true; }

  // `!exit <asid>`: tears address space `asid` down as Linux's exit_mmap does: first every
  // present leaf entry is cleared (unmap_vmas -> zap_pte_range), tables in address order;
  // then every entry that references a table, bottom-up, each right after its table was
  // emptied (free_pgtables -> free_pte_range's pmd_clear, pud_clear, p4d_clear, pgd_clear).
  // Then `asid` has no root: its next use allocates a fresh one (a new address space).
  // Returns the address space's table pages, the root first, then the others in the order
  // a depth-first walk in address order meets them; empty (nothing written) when `asid`
  // has no root. The table frames are not freed.
  std::vector<Pa> destroy_address_space(std::uint16_t asid);

  // The cost handle_page_fault charges for a page of `size`.
  Cycles fault_latency(PageSize size) const {
    const std::uint64_t extra_4k_pages = page_bytes(size) / page_bytes(PageSize::k4K) - 1;
    return m_params.page_fault_latency + m_params.clear_page_latency * extra_4k_pages;
  }

  unsigned levels() const { return m_levels; }
  PageSize page_size() const { return m_page_size; }
  const OsStats& stats() const { return m_stats; }

 private:
  static constexpr std::uint64_t kNoRoot = ~std::uint64_t{0};
  // Flags of every entry the OS writes: present, writable, user; A and D left to the walker.
  static constexpr std::uint64_t kEntryFlags =
      paging::pte::kPresent | paging::pte::kRw | paging::pte::kUser;

  // Where the leaf entry that maps `va` lies and what it holds, by a walk of the tables as
  // they are; nullopt when `va` is not mapped.
  struct Leaf {
    Pa entry;
    std::uint64_t raw;
    unsigned level;
  };
  std::optional<Leaf> find_leaf(std::uint16_t asid, Va va) const;
  // The entry at `level` on the way to `va` when it is present and points to a table;
  // nullopt otherwise.
  std::optional<Leaf> find_table(std::uint16_t asid, Va va, unsigned level) const {
    namespace pte = paging::pte;
    if (level <= pte::kPt || asid >= m_roots.size() || m_roots[asid] == kNoRoot) {
      return std::nullopt;
    }
    std::uint64_t table = m_roots[asid];
    for (unsigned l = m_levels;; --l) {
      const Pa entry(table | pte::entry_offset(va.value(), l));
      const std::uint64_t raw = m_memory.read_u64(entry);
      if ((raw & pte::kPresent) == 0 || pte::is_leaf(raw, l)) {
        return std::nullopt;
      }
      if (l == level) {
        return Leaf{entry, raw, l};
      }
      table = raw & pte::kAddressMask;
    }
  }

  // handle_page_fault and handle_small_page_fault: maps a page of `want` (or 4 KiB in a
  // split range or on a THP fallback), at `cached` if given, else a fresh frame.
  // `fault`: counted as a fault (page_faults, cycles); else a page mapped beside one.
  Cycles map_on_fault(std::uint16_t asid, Va va, PageSize want, std::optional<Pa> cached,
                      bool fault = true);

  // destroy_address_space's two passes over the table at `table` (a table at `level`).
  void clear_leaves(std::uint64_t table, unsigned level, std::vector<Pa>& tables);
  void clear_tables(std::uint64_t table, unsigned level);

  // A zeroed 4 KiB frame for a page table; counted in page_table_pages.
  Pa allocate_table() {
    const Pa table = m_frames.allocate_table();
    m_memory.zero_frame(table);
    ++m_stats.page_table_pages;
    return table;
  }

  OsParams m_params;
  PageSize m_page_size;
  Memory& m_memory;
  Frames& m_frames;
  OsStats m_stats;
  unsigned m_levels;
  std::vector<std::uint64_t> m_roots;  // indexed by asid: root table address, or kNoRoot
  bool m_splits_huge = false;          // enable_huge_page_splitting()
};

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
Cycles PageTableOs<Va, Pa, Memory, Frames>::handle_page_fault(std::uint16_t asid, Va va, AccessKind,
                                                              PageSize largest) {
  const PageSize want = page_bytes(largest) < page_bytes(m_page_size) ? largest : m_page_size;
  return map_on_fault(asid, va, want, std::nullopt);
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
Cycles PageTableOs<Va, Pa, Memory, Frames>::handle_small_page_fault(std::uint16_t asid, Va va,
                                                                    std::optional<Pa> cached) {
  return map_on_fault(asid, va, PageSize::k4K, cached);
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
void PageTableOs<Va, Pa, Memory, Frames>::map_page_near_fault(std::uint16_t asid, Va va, Pa frame) {
  map_on_fault(asid, va, PageSize::k4K, frame, /*fault=*/false);
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
Cycles PageTableOs<Va, Pa, Memory, Frames>::map_on_fault(std::uint16_t asid, Va va, PageSize want,
                                                         std::optional<Pa> cached, bool fault) {
  namespace pte = paging::pte;
  const std::uint64_t v = va.value();
  const unsigned leaf_level = pagesim::leaf_level(want);
  std::uint64_t table = address_space_root(asid).value();

  // Missing tables, top-down (Linux: p4d_alloc, pud_alloc, pmd_alloc, pte_alloc).
  for (unsigned level = m_levels; level > leaf_level; --level) {
    const Pa entry_pa(table | pte::entry_offset(v, level));
    std::uint64_t entry = m_memory.read_u64(entry_pa);
    if ((entry & pte::kPresent) == 0) {
      entry = (allocate_table().value() & pte::kAddressMask) | kEntryFlags;
      m_memory.write_u64(entry_pa, entry);
    } else if (pte::is_leaf(entry, level)) {
      detail::throw_mapped_by_other_size(m_stats.name(), detail::space_name(va), v, asid,
                                         pte::leaf_page_size(level), want);
    }
    table = entry & pte::kAddressMask;
  }

  // The leaf and its data frame. Where the huge page's slot already holds a table (a range
  // split before, split_huge; or smaller pages of the same range, e.g. 4 KiB shmem pages of
  // a memfd beside anonymous memory in one 1 GiB region), the table stays and the fault
  // maps the largest smaller page whose slot is empty in it (a huge fault needs pmd_none /
  // pud_none; otherwise handle_pte_fault).
  PageSize size = want;
  unsigned level = leaf_level;
  Pa leaf_pa(table | pte::entry_offset(v, level));
  std::uint64_t old = m_memory.read_u64(leaf_pa);
  while (m_splits_huge && size != PageSize::k4K && (old & pte::kPresent) != 0 &&
         !pte::is_leaf(old, level)) {
    size = size == PageSize::k1G ? PageSize::k2M : PageSize::k4K;
    --level;
    leaf_pa = Pa((old & pte::kAddressMask) | pte::entry_offset(v, level));
    old = m_memory.read_u64(leaf_pa);
  }
  if ((old & pte::kPresent) != 0) {
    detail::throw_already_mapped(m_stats.name(), detail::space_name(va), v, asid,
                                 !pte::is_leaf(old, pagesim::leaf_level(size)), size);
  }
  Pa data;
  try {
    data = cached ? *cached : m_frames.allocate(size);
  } catch (const mem::OutOfMemory&) {
    if (!m_splits_huge || size != PageSize::k2M) {
      throw;
    }
    // No free 2 MiB frame (memory fragmented into 4 KiB frames): the fault falls back to a
    // small page under a new table (do_huge_pmd_anonymous_page's VM_FAULT_FALLBACK).
    ++m_stats.thp_fallbacks;
    const Pa pt = allocate_table();
    m_memory.write_u64(leaf_pa, (pt.value() & pte::kAddressMask) | kEntryFlags);
    size = PageSize::k4K;
    leaf_pa = Pa(pt.value() | pte::entry_offset(v, pte::kPt));
    data = m_frames.allocate(size);
  }
  m_memory.write_u64(leaf_pa, (data.value() & pte::page_address_mask(size)) | kEntryFlags |
                                  (size == PageSize::k4K ? 0 : pte::kPs));

  if (fault) {
    ++m_stats.page_faults;
  }
  switch (size) {
    case PageSize::k4K:
      ++m_stats.mapped_pages_4k;
      break;
    case PageSize::k2M:
      ++m_stats.mapped_pages_2m;
      break;
    case PageSize::k1G:
      ++m_stats.mapped_pages_1g;
      break;
  }
  if (!fault) {
    return Cycles();
  }
  const Cycles cost = cached ? m_params.page_fault_latency : fault_latency(size);
  m_stats.cycles += cost.count();
  return cost;
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
bool PageTableOs<Va, Pa, Memory, Frames>::split_huge(std::uint16_t asid, Va va) {
  namespace pte = paging::pte;
  const std::optional<Leaf> leaf = find_leaf(asid, va);
  if (!leaf || leaf->level != pte::kPd) {
    return false;
  }
  const Pa table = allocate_table();
  const std::uint64_t frame = leaf->raw & pte::page_address_mask(PageSize::k2M);
  const std::uint64_t kept = leaf->raw & (pte::kAccessed | pte::kDirty);
  for (unsigned i = 0; i < pte::kEntriesPerTable; ++i) {
    m_memory.write_u64(Pa(table.value() + std::uint64_t{i} * 8),
                       (frame + std::uint64_t{i} * 4 * kKiB) | kEntryFlags | kept);
  }
  m_memory.write_u64(leaf->entry, (table.value() & pte::kAddressMask) | kEntryFlags);
  return true;
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
bool PageTableOs<Va, Pa, Memory, Frames>::free_empty_pte_table(std::uint16_t asid, Va va) {
  namespace pte = paging::pte;
  const std::uint64_t v = va.value();
  std::uint64_t table = address_space_root(asid).value();
  for (unsigned level = m_levels; level > pte::kPd; --level) {
    const std::uint64_t entry = m_memory.read_u64(Pa(table | pte::entry_offset(v, level)));
    if ((entry & pte::kPresent) == 0 || pte::is_leaf(entry, level)) {
      return false;
    }
    table = entry & pte::kAddressMask;
  }
  const Pa pmd(table | pte::entry_offset(v, pte::kPd));
  const std::uint64_t entry = m_memory.read_u64(pmd);
  if ((entry & pte::kPresent) == 0 || pte::is_leaf(entry, pte::kPd)) {
    return false;
  }
  const std::uint64_t pt = entry & pte::kAddressMask;
  for (unsigned i = 0; i < pte::kEntriesPerTable; ++i) {
    if (m_memory.read_u64(Pa(pt + std::uint64_t{i} * 8)) != 0) {
      return false;
    }
  }
  m_memory.write_u64(pmd, 0);
  return true;
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
bool PageTableOs<Va, Pa, Memory, Frames>::add_pte_table(std::uint16_t asid, Va va) {
  namespace pte = paging::pte;
  const std::uint64_t v = va.value();
  std::uint64_t table = address_space_root(asid).value();
  for (unsigned level = m_levels; level >= pte::kPd; --level) {
    const Pa entry_pa(table | pte::entry_offset(v, level));
    std::uint64_t entry = m_memory.read_u64(entry_pa);
    if (level == pte::kPd && (entry & pte::kPresent) != 0) {
      return false;  // a PT or a 2 MiB leaf is there already
    }
    if ((entry & pte::kPresent) == 0) {
      entry = (allocate_table().value() & pte::kAddressMask) | kEntryFlags;
      m_memory.write_u64(entry_pa, entry);
    } else if (pte::is_leaf(entry, level)) {
      return false;  // a 1 GiB leaf covers it
    }
    table = entry & pte::kAddressMask;
  }
  return true;
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
auto PageTableOs<Va, Pa, Memory, Frames>::lookup(std::uint16_t asid, Va va) const
    -> std::optional<Mapping> {
  const std::optional<Leaf> leaf = find_leaf(asid, va);
  if (!leaf) {
    return std::nullopt;
  }
  const PageSize size = paging::pte::leaf_page_size(leaf->level);
  return Mapping{Pa(leaf->raw & paging::pte::page_address_mask(size)), size};
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
auto PageTableOs<Va, Pa, Memory, Frames>::find_leaf(std::uint16_t asid, Va va) const
    -> std::optional<Leaf> {
  namespace pte = paging::pte;
  if (asid >= m_roots.size() || m_roots[asid] == kNoRoot) {
    return std::nullopt;
  }
  const std::uint64_t v = va.value();
  std::uint64_t table = m_roots[asid];
  for (unsigned level = m_levels; level >= pte::kPt; --level) {
    const Pa entry(table | pte::entry_offset(v, level));
    const std::uint64_t raw = m_memory.read_u64(entry);
    if ((raw & pte::kPresent) == 0) {
      return std::nullopt;
    }
    if (pte::is_leaf(raw, level)) {
      return Leaf{entry, raw, level};
    }
    table = raw & pte::kAddressMask;
  }
  return std::nullopt;  // not reached: every PT entry is a leaf
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
auto PageTableOs<Va, Pa, Memory, Frames>::unmap(std::uint16_t asid, Va va)
    -> std::optional<Mapping> {
  namespace pte = paging::pte;
  const std::optional<Leaf> leaf = find_leaf(asid, va);
  if (!leaf) {
    return std::nullopt;
  }
  m_memory.write_u64(leaf->entry, 0);
  const PageSize size = pte::leaf_page_size(leaf->level);
  return Mapping{Pa(leaf->raw & pte::page_address_mask(size)), size};
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
auto PageTableOs<Va, Pa, Memory, Frames>::remap(std::uint16_t asid, Va va)
    -> std::optional<Mapping> {
  namespace pte = paging::pte;
  const std::optional<Leaf> leaf = find_leaf(asid, va);
  if (!leaf) {
    return std::nullopt;
  }
  const PageSize size = pte::leaf_page_size(leaf->level);
  const Pa data = m_frames.allocate(size);
  m_memory.write_u64(leaf->entry, (data.value() & pte::page_address_mask(size)) | kEntryFlags |
                                      (size == PageSize::k4K ? 0 : pte::kPs));
  return Mapping{data, size};
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
void PageTableOs<Va, Pa, Memory, Frames>::clear_leaves(std::uint64_t table, unsigned level,
                                                       std::vector<Pa>& tables) {
  namespace pte = paging::pte;
  tables.push_back(Pa(table));
  for (unsigned i = 0; i < pte::kEntriesPerTable; ++i) {
    const Pa entry(table + std::uint64_t{i} * 8);
    const std::uint64_t raw = m_memory.read_u64(entry);
    if ((raw & pte::kPresent) == 0) {
      continue;
    }
    if (pte::is_leaf(raw, level)) {
      m_memory.write_u64(entry, 0);
    } else {
      clear_leaves(raw & pte::kAddressMask, level - 1, tables);
    }
  }
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
void PageTableOs<Va, Pa, Memory, Frames>::clear_tables(std::uint64_t table, unsigned level) {
  namespace pte = paging::pte;
  for (unsigned i = 0; i < pte::kEntriesPerTable; ++i) {
    const Pa entry(table + std::uint64_t{i} * 8);
    const std::uint64_t raw = m_memory.read_u64(entry);
    if ((raw & pte::kPresent) == 0) {
      continue;  // the first pass cleared every leaf: what is present references a table
    }
    clear_tables(raw & pte::kAddressMask, level - 1);
    m_memory.write_u64(entry, 0);
  }
}

template <VirtualAddress Va, PhysicalAddress Pa, PageTableMemory<Pa> Memory, FrameSource<Pa> Frames>
std::vector<Pa> PageTableOs<Va, Pa, Memory, Frames>::destroy_address_space(std::uint16_t asid) {
  std::vector<Pa> tables;
  if (asid >= m_roots.size() || m_roots[asid] == kNoRoot) {
    return tables;
  }
  const std::uint64_t root = m_roots[asid];
  clear_leaves(root, m_levels, tables);
  clear_tables(root, m_levels);
  m_roots[asid] = kNoRoot;
  return tables;
}

// The machine's kernel (native mode).
using NativeOs = PageTableOs<Gva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;
// The VMM process's page table (HVA -> HPA): host demand paging of guest RAM.
using HostOs = PageTableOs<Hva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;

extern template class PageTableOs<Gva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;
extern template class PageTableOs<Hva, Hpa, mem::PhysicalMemory, mem::FrameAllocator>;

}  // namespace pagesim::os
