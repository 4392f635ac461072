// One of Intel's paging-structure caches (SDM Vol. 3A, 4.10.3 "Paging-Structure Caches").
//
// A PDE cache (level 2), PDPTE cache (level 3), PML4E cache (level 4) or PML5E cache
// (level 5, 5-level paging only). An entry is tagged by the PCID and by the linear-address
// bits that select the cached entry: VA 47:21 for the PDE cache, 47:30 PDPTE, 47:39 PML4E
// (the upper bound is 56 with LA57, and the PML5E cache uses 56:48). It holds what the SDM
// lists for it (4.10.3.1): the physical address of the next paging structure and the
// access rights combined over the entry and the levels above it (R/W and U/S ANDed, XD
// ORed). Only present entries that reference a table are cached: a PDE or PDPTE with PS = 1
// maps a page and goes to the TLB instead.
//
// Organisation: `entries / ways` sets (a power of two) of `ways` entries, set index = the
// low bits of the tag's VA part, true LRU within a set (per-entry use stamps: the smallest
// stamp is the victim, invalid entries first, lowest way first on ties). Intel documents
// neither sizes nor organisation; see walker_params.h for the defaults. `entries == 0`
// makes the cache absent: lookups miss without counting and fills do nothing.
//
// Hot path: lookup() and fill() scan one set of a flat array; no allocation. for_each_hpa()
// is for --check's audit (no entry may refer to a freed host frame), not for the walk.
#pragma once

#include <cstdint>
#include <vector>

#include "base/address.h"
#include "models/paging/pte.h"
#include "models/walker/walker_params.h"

namespace pagesim::walker {

namespace pte = paging::pte;  // the x86-64 entry format (models/paging/pte.h)

class PagingStructureCache {
 public:
  struct Entry {
    std::uint64_t tag = 0;         // kValid | pcid << kPcidShift | VA bits (see key_of)
    std::uint64_t next_table = 0;  // physical address of the next paging structure
    std::uint64_t last_use = 0;    // LRU stamp
    pte::Rights rights = 0;        // combined over this entry and the levels above
  };

  // `level`: the level of the entries cached (pte::kPd .. pte::kPml5). `la_bits`: the
  // width of a linear address, 48 (4-level paging) or 57 (5-level). Throws
  // std::invalid_argument for a geometry the config schema would reject.
  PagingStructureCache(const PscParams& params, unsigned level, unsigned la_bits);

  bool enabled() const { return m_set_mask != kDisabled; }
  unsigned level() const { return m_level; }
  std::uint32_t entries() const { return static_cast<std::uint32_t>(m_entries.size()); }
  std::uint32_t ways() const { return m_ways; }

  // The entry for `va` under `pcid`, or null. A hit makes it the set's most recent entry.
  const Entry* lookup(std::uint64_t va, std::uint16_t pcid) {
    if (!enabled()) {
      return nullptr;
    }
    const std::uint64_t key = key_of(va);
    const std::uint64_t tag = tag_of(key, pcid);
    Entry* set = &m_entries[(key & m_set_mask) * m_ways];
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w].tag == tag) {
        set[w].last_use = ++m_clock;
        return &set[w];
      }
    }
    return nullptr;
  }

  // Caches the entry that selects `va` under `pcid`: replaces an entry with the same tag,
  // else an invalid one, else the least recently used.
  void fill(std::uint64_t va, std::uint16_t pcid, std::uint64_t next_table, pte::Rights rights) {
    if (!enabled()) {
      return;
    }
    const std::uint64_t key = key_of(va);
    const std::uint64_t tag = tag_of(key, pcid);
    Entry* set = &m_entries[(key & m_set_mask) * m_ways];
    Entry* victim = &set[0];
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w].tag == tag) {
        victim = &set[w];
        break;
      }
      if (set[w].last_use < victim->last_use) {
        victim = &set[w];  // invalid entries have last_use 0: they go first
      }
    }
    victim->tag = tag;
    victim->next_table = next_table;
    victim->rights = rights;
    victim->last_use = ++m_clock;
  }

  void invalidate_all();
  void invalidate_pcid(std::uint16_t pcid);

  // Valid entries, for tests and debugging.
  std::uint32_t valid_entries() const;

  // Calls f(Hpa next_table, const char* what) once per valid entry, in no particular order:
  // the 4 KiB-aligned physical address of the next paging structure the entry holds (an HPA:
  // the native walker walks host or shadow tables), and "PSC PDE", "PSC PDPTE", "PSC PML4E"
  // or "PSC PML5E" after this cache's level. Read-only (no LRU update); O(entries).
  template <class F>
  void for_each_hpa(F&& f) const {
    const char* what = name();
    for (const Entry& e : m_entries) {
      if ((e.tag & kValid) != 0) {
        f(Hpa(e.next_table), what);
      }
    }
  }
  // "PSC PDE" .. "PSC PML5E": the name for_each_hpa() reports.
  const char* name() const {
    static constexpr const char* kNames[] = {"PSC PDE", "PSC PDPTE", "PSC PML4E", "PSC PML5E"};
    return kNames[m_level - pte::kPd];
  }

 private:
  static constexpr std::uint64_t kValid = std::uint64_t{1} << 63;
  static constexpr unsigned kPcidShift = 40;  // VA part is at most 57 - 21 = 36 bits
  static constexpr std::uint64_t kDisabled = ~std::uint64_t{0};

  std::uint64_t key_of(std::uint64_t va) const { return (va & m_la_mask) >> m_shift; }
  static std::uint64_t tag_of(std::uint64_t key, std::uint16_t pcid) {
    return kValid | (std::uint64_t{pcid} << kPcidShift) | key;
  }

  unsigned m_level;
  unsigned m_shift;          // pte::index_shift(level): VA bits la_bits-1 : m_shift
  std::uint64_t m_la_mask;   // the linear-address bits that exist
  std::uint64_t m_set_mask;  // sets - 1, or kDisabled
  std::uint32_t m_ways;
  std::uint64_t m_clock = 0;     // LRU stamps; 0 marks never used
  std::vector<Entry> m_entries;  // sets x ways, set-major
};

}  // namespace pagesim::walker
