// The native OS model: the kernel that builds x86-64 page tables in simulated physical
// memory and maps a page on first touch, as Linux's anonymous-memory fault path does
// (handle_mm_fault -> __handle_mm_fault allocating missing p4d/pud/pmd/pte tables top-down
// -> do_anonymous_page, or do_huge_pmd_anonymous_page with THP).
//
// Address spaces are numbered by `asid` (the PCID the core runs them under). Each has one
// root table (PML4, or PML5 with 5-level paging), a zeroed 4 KiB frame allocated on first
// use. Pages are never unmapped (native mode in step 1 does not reclaim).
//
// What a fault writes (Intel SDM Vol. 3A, 4.5): every entry it makes has P = 1, R/W = 1,
// U/S = 1, A = 0, D = 0 (the walker sets A and D, SDM 4.8); a 2 MiB or 1 GiB leaf also has
// PS = 1; all other bits are 0 (no G, no XD, write-back memory type). New table pages are
// zeroed 4 KiB frames. The page size is os.thp for every fault, so one address space never
// mixes sizes; a fault where the other size is already mapped is a programming error of
// the model and throws std::logic_error, as does a fault on a page already mapped.
//
// Frame order (tests and users rely on it; FrameAllocator order applies: page-table
// frames ascend from its first byte, data frames of every size descend from the top):
//  - address_space_root(asid), on its first call for `asid` (handle_page_fault calls it),
//    allocates the root: one 4 KiB frame.
//  - handle_page_fault allocates the missing table pages top-down, one table frame each,
//    from the level below the root to the level above the leaf (4-level, 4 KiB pages:
//    PDPT, PD, PT), then the data frame of the os.thp page size.
//  Example: 4-level paging, thp = never, FrameAllocator first byte 1 MiB, memory M bytes.
//  The first fault of a fresh address space takes table frames 0x100 (PML4), 0x101
//  (PDPT), 0x102 (PD), 0x103 (PT) and data frame M/4K - 1; a fault on the next 4 KiB
//  page takes only data frame M/4K - 2.
//
// Cost: page_fault_latency for a 4 KiB page; a huge page adds the zeroing of each further
// 4 KiB, page_fault_latency + (page_bytes / 4 KiB - 1) * clear_page_latency (os_params.h).
// The entry writes and table allocations are part of that cost, not charged separately.
#pragma once

#include <cstdint>
#include <vector>

#include "models/mem/frame_allocator.h"
#include "models/mem/physical_memory.h"
#include "models/os/os_params.h"
#include "sim/access.h"
#include "sim/address.h"
#include "sim/cycles.h"
#include "sim/page_size.h"
#include "sim/stats/stats.h"

namespace pagesim::os {

struct OsStats : stats::Group {
  explicit OsStats(stats::Group* parent) : Group(parent, "os") {}

  stats::Counter page_faults{*this, "page_faults", "not-present faults handled (first touches)"};
  stats::Counter page_table_pages{*this, "page_table_pages",
                                  "4 KiB page-table pages allocated, roots included"};
  stats::Counter mapped_pages_4k{*this, "mapped_pages_4k", "4 KiB pages mapped"};
  stats::Counter mapped_pages_2m{*this, "mapped_pages_2m", "2 MiB pages mapped"};
  stats::Counter mapped_pages_1g{*this, "mapped_pages_1g", "1 GiB pages mapped"};
  stats::Counter cycles{*this, "cycles", "cycles charged for page faults"};
};

class NativeOs {
 public:
  // `levels`: 4, or 5 with LA57 (else std::invalid_argument). Statistics go to a group "os"
  // under `parent`. `memory` and `frames` must outlive the model and describe the same
  // physical memory.
  NativeOs(const OsParams& params, unsigned levels, mem::PhysicalMemory& memory,
           mem::FrameAllocator& frames, stats::Group* parent);

  NativeOs(const NativeOs&) = delete;
  NativeOs& operator=(const NativeOs&) = delete;

  // The root table of address space `asid` (what CR3 points to), allocated on first use.
  Hpa address_space_root(std::uint16_t asid);

  // A not-present fault on `gva` in address space `asid`: maps the os.thp-sized page that
  // holds it (table pages first, top-down, then the data frame; see the file comment) and
  // returns the fault's cost in cycles. `kind` does not change what is mapped: every first
  // touch gets a private zeroed frame with R/W = 1 (Linux would map the shared zero page
  // read-only on a read fault; not modelled). Throws mem::OutOfMemory when memory runs out,
  // std::logic_error when the page is already mapped, by this or another page size.
  Cycles handle_page_fault(std::uint16_t asid, Gva gva, AccessKind kind);

  // The cost handle_page_fault charges for a page of `size`.
  Cycles fault_latency(PageSize size) const;

  unsigned levels() const { return m_levels; }
  PageSize page_size() const { return m_page_size; }
  const OsStats& stats() const { return m_stats; }

 private:
  static constexpr std::uint64_t kNoRoot = ~std::uint64_t{0};

  // A zeroed 4 KiB frame for a page table; counted in page_table_pages.
  Hpa allocate_table();

  OsParams m_params;
  unsigned m_levels;
  PageSize m_page_size;
  mem::PhysicalMemory& m_memory;
  mem::FrameAllocator& m_frames;
  OsStats m_stats;
  std::vector<std::uint64_t> m_roots;  // indexed by asid: root table address, or kNoRoot
};

}  // namespace pagesim::os
