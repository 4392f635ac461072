// The native x86-64 page walker: 4-level and 5-level (LA57) paging with Intel's
// paging-structure caches (Intel SDM Vol. 3A, 4.5 "4-Level Paging and 5-Level Paging",
// 4.8 "Accessed and Dirty Flags", 4.10.3 "Paging-Structure Caches", 4.10.4 invalidation).
//
// What a walk does, in order:
//  1. Probes the paging-structure caches deepest first: PDE cache, PDPTE cache, PML4E
//     cache, PML5E cache (5-level only). The first hit gives the physical address of the
//     next table and the rights combined above it; the walk starts there. No hit: it starts
//     at the root table, whose physical address is `root` (CR3 bits 51:12).
//  2. Reads one entry per level down to a leaf or a not-present entry. Each reference
//     reads the 8-byte entry from PhysicalMemory and costs timing.access(entry_hpa, false)
//     cycles. With the caches off a 4 KiB page costs `levels` references, a 2 MiB page
//     levels - 1, a 1 GiB page levels - 2; a not-present entry at level L ends the walk
//     after levels - L + 1 references. A cache hit at level L leaves levels - L + 1 fewer;
//     a walk always makes at least one reference (the leaf is never cached here: leaves go
//     to the TLB, which is not part of this class).
//  3. Sets the accessed flag of every present entry it uses, and the dirty flag of the
//     leaf on a write whose combined rights allow writing (4.8). An entry whose flags
//     change is written back to PhysicalMemory once and counted in `ad_updates`. The
//     update is a locked read-modify-write of the line the reference just read, so it is
//     charged no cycles and makes no timing.access call (an approximation: real cores pay
//     some tens of cycles for the locked update, rarely, since A is set once per entry).
//  4. Caches each present non-leaf entry it read at levels 2.. in the matching
//     paging-structure cache, tagged by (PCID, VA bits). This happens also when the walk
//     then ends at a not-present entry further down: the SDM allows caching entries that
//     translate no address yet (4.10.3.1), and the OS's fault handler only turns
//     not-present entries present, which needs no invalidation (4.10.4.3).
//
// Not modelled: protection faults (the rights come back in the Translation for the caller
// to check; a write the rights forbid sets no dirty flag), reserved-bit faults, canonical-
// address checks (bits above the linear-address width are ignored), CR0.WP,
// SMEP/SMAP, protection keys, memory types (PWT/PCD/PAT), global pages in the caches (the
// paging-structure caches hold no global entries in the SDM either).
//
// Hot path: walk() allocates nothing; the caches are flat arrays; no maps, no
// std::function. A direct call per reference to the cache model (ReferenceTiming), a
// virtual one to any other MemoryTiming.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/access.h"
#include "base/address.h"
#include "base/cycles.h"
#include "base/translation.h"
#include "models/cache/reference_timing.h"
#include "models/mem/memory_timing.h"
#include "models/mem/physical_memory.h"
#include "models/paging/pte.h"
#include "models/walker/paging_structure_cache.h"
#include "models/walker/walker_params.h"
#include "models/walker/walker_stats.h"

namespace pagesim::walker {

namespace pte = paging::pte;  // the x86-64 entry format (models/paging/pte.h)

struct WalkRequest {
  Hpa root;  // the root table (PML4 or PML5): CR3 bits 51:12
  Gva gva;   // the linear address to translate
  AccessKind kind = AccessKind::kRead;
  std::uint16_t pcid = 0;  // tags the paging-structure cache entries
};

struct WalkResult {
  enum class Outcome : std::uint8_t { kOk, kNotPresent };
  Outcome outcome = Outcome::kOk;
  // Valid when outcome == kOk: page base, size, combined rights, the leaf's dirty flag
  // after this walk's update.
  Translation translation;
  // When outcome == kNotPresent: the level (1 = PT .. 5 = PML5) of the entry with P = 0.
  // 0 when the walk succeeded.
  unsigned fault_level = 0;
  unsigned refs = 0;  // page-table references made
  Cycles cycles;      // their summed latencies
};

class Walker {
 public:
  // `levels`: 4, or 5 for LA57; anything else throws std::invalid_argument, as does a
  // cache geometry the config schema rejects. Statistics go to a group "walker" under
  // `parent` (null: a root group of its own). `memory` and `timing` must outlive the walker.
  Walker(const WalkerParams& params, unsigned levels, mem::PhysicalMemory& memory,
         mem::MemoryTiming& timing, stats::Group* parent);

  Walker(const Walker&) = delete;
  Walker& operator=(const Walker&) = delete;

  // One walk for a TLB miss: see the file comment for what it reads, writes and counts.
  WalkResult walk(const WalkRequest& r);

  // A hint that `next` and then `after` are walked soon: the host lines of their PT
  // entries (a walk's cold load when the PDE cache misses over a large footprint) and of
  // the entries' sets in the cache model start loading. The page tables come from the
  // last walks through the same 2 MiB of linear address space (m_pt_memo): a hint with no
  // such walk, or a stale one (another root, tables changed since), loads nothing or the
  // wrong lines, which costs time and changes nothing. No effect on the model (no
  // statistics, caches, flags or timing).
  void prefetch(Gva next, Gva after) const;

  // The translation of `gva` under the tables at `root`, walked from the root with no side
  // effects: no statistics, no accessed/dirty updates, no cache lookups or fills, no
  // timing calls. `dirty` is the leaf's dirty flag as it is in memory. std::nullopt when an
  // entry on the way is not present. For --check, tests and debugging.
  std::optional<Translation> translate_debug(Hpa root, Gva gva) const;

  // Invalidation of the paging-structure caches (SDM 4.10.4.1).
  // Every entry, of every PCID: MOV to CR3 with CR4.PCIDE = 0, INVPCID types 2 and 3.
  void invalidate_all();
  // Every entry of one PCID: MOV to CR3 with PCIDE = 1 and bit 63 clear, INVPCID type 1.
  void invalidate_pcid(std::uint16_t pcid);
  // INVLPG (and INVPCID type 0): the SDM has it invalidate all paging-structure-cache
  // entries of the current PCID, whatever the address, so `gva` selects nothing here; it is
  // kept for the caller's TLB, which drops only that page.
  void invalidate_page(Gva gva, std::uint16_t pcid);

  // Several CPUs (cores, or a VM's vCPUs): the paging-structure caches are per logical
  // processor (SDM Vol. 3A 4.10.3), so each CPU has its own. The current CPU's sit in the
  // walker, the others' are parked and swapped in by switch_cpu: a walk pays nothing for
  // them. The invalidations above are the current CPU's (INVLPG, MOV CR3 run on one CPU);
  // those below reach every CPU's caches. One CPU until set_cpus.
  void set_cpus(unsigned cpus);
  void switch_cpu(unsigned cpu);
  unsigned cpus() const { return static_cast<unsigned>(m_parked.size()); }
  unsigned current_cpu() const { return m_cpu; }
  void invalidate_pcid_every_cpu(std::uint16_t pcid);
  void invalidate_all_every_cpu();

  unsigned levels() const { return m_levels; }
  const WalkerStats& stats() const { return m_stats; }
  // The cache of entries at `level` (pte::kPd .. pte::kPml5), for tests and debugging.
  const PagingStructureCache& cache(unsigned level) const { return m_psc[level - pte::kPd]; }

  // Every host-physical frame a paging-structure-cache entry refers to: f(Hpa frame, const
  // char* structure) once per valid entry of the PDE, PDPTE, PML4E and PML5E caches (see
  // PagingStructureCache::for_each_hpa: the next table's 4 KiB frame, "PSC PDE" ..). No side
  // effects; for --check's audit after an invalidation, not for the walk.
  // Every CPU's caches (set_cpus).
  template <class F>
  void for_each_cached_hpa(F&& f) const {
    for (const PagingStructureCache& psc : m_psc) {
      psc.for_each_hpa(f);
    }
    for (std::size_t cpu = 0; cpu < m_parked.size(); ++cpu) {
      if (cpu != m_cpu) {
        for (const PagingStructureCache& psc : m_parked[cpu]) {
          psc.for_each_hpa(f);
        }
      }
    }
  }

 private:
  unsigned m_levels;
  bool m_pwc_enabled;
  mem::PhysicalMemory& m_memory;
  cache::ReferenceTiming m_timing;
  WalkerStats m_stats;
  // Indexed by level - 2: PDE, PDPTE, PML4E, PML5E caches (the last is absent with 4 levels).
  std::array<PagingStructureCache, 4> m_psc;
  std::array<PscStats*, 4> m_psc_stats;
  // Each CPU's caches while another CPU is current (the current CPU's slot holds an empty
  // set, swapped out); one slot per CPU.
  std::vector<std::array<PagingStructureCache, 4>> m_parked;
  unsigned m_cpu = 0;
  // prefetch()'s memory of the last walks, host-side only (nothing in the model reads it):
  // by 2 MiB region of linear address, the HPA of the page table that maps it, written by
  // the walks that reach it. Direct-mapped.
  struct TableMemo {
    std::uint64_t region = ~std::uint64_t{0};  // va >> 21; all ones: empty
    std::uint64_t table_hpa = 0;
  };
  static constexpr std::size_t kMemoSlots = 4096;  // 8 GiB of linear addresses at 2 MiB
  static constexpr unsigned kRegionShift = 21;
  std::vector<TableMemo> m_pt_memo;
  void prefetch_pt_entry(std::uint64_t va) const;
};

}  // namespace pagesim::walker
