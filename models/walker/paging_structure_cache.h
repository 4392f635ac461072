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
// low bits of the tag's VA part, true LRU within a set: the victim is an invalid entry if
// there is one (the lowest-numbered way first), else the least recently used (looked up or
// filled). Intel documents neither sizes nor organisation; see walker_params.h for the
// defaults. `entries == 0` makes the cache absent: lookups miss without counting and fills
// do nothing.
//
// The recency state: up to 16 ways, each set's ways in recency order packed as 4-bit way
// numbers in one word (position 0 the most recent), the invalid ways at the back in
// descending order, so that the victim is always the last position: a lookup hit moves its
// way to the front, a fill takes the last way and moves it to the front (a rotation), and an
// invalidation that empties ways moves them to the back again. More ways: per-entry use
// stamps (0: invalid), the victim the smallest, the lowest-numbered way on ties. Both choose
// the same victims.
//
// Hot path: lookup() and fill() scan one set of a flat array; no allocation. A fill of the
// tag that the last lookup missed (the walk's fill after a miss at this level; the miss is
// remembered until that tag is filled) knows the tag is absent and replaces the victim with
// no pass over the set. for_each_hpa() is for --check's audit (no entry may refer to a freed
// host frame), not for the walk.
#pragma once

#include <bit>
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
    std::uint64_t tag = 0;         // kValid | pcid << kPcidShift | VA bits (see key_of); 0: invalid
    std::uint64_t next_table = 0;  // physical address of the next paging structure
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

  // The entry for `va` under `pcid`, or null. A hit makes it the set's most recent entry; a
  // miss is remembered for the fill of the same tag (see fill()).
  const Entry* lookup(std::uint64_t va, std::uint16_t pcid) {
    if (!enabled()) {
      return nullptr;
    }
    const std::uint64_t key = key_of(va);
    const std::uint64_t tag = tag_of(key, pcid);
    const std::uint64_t set = key & m_set_mask;
    Entry* ways = &m_entries[set * m_ways];
    const std::uint32_t hit = m_ways == 4 ? find<4>(ways, tag) : find(ways, m_ways, tag);
    if (hit == kNone) {
      m_absent = tag;
      return nullptr;
    }
    if (m_used == 0 || (m_order[set] & 0xf) != hit) {
      touch(set, hit);  // (already the most recent: the order stays; a walk's upper levels
                        // hit the same entry access after access)
    }
    return &ways[hit];
  }

  // Caches the entry that selects `va` under `pcid`: replaces an entry with the same tag,
  // else an invalid one, else the least recently used.
  void fill(std::uint64_t va, std::uint16_t pcid, std::uint64_t next_table, pte::Rights rights) {
    if (!enabled()) {
      return;
    }
    const std::uint64_t key = key_of(va);
    const std::uint64_t tag = tag_of(key, pcid);
    const std::uint64_t set = key & m_set_mask;
    Entry* ways = &m_entries[set * m_ways];
    std::uint32_t way;
    if (m_used != 0 && tag == m_absent) {
      // The last lookup missed this tag and nothing has filled it since: not in the set, so
      // the victim, the last in the order, goes to the front.
      const std::uint64_t order = m_order[set];
      way = static_cast<std::uint32_t>(order >> (4 * (m_ways - 1))) & 0xf;
      m_order[set] = (order & ~m_used) | ((order << 4) & m_used) | way;
      m_absent = 0;
    } else {
      way = m_ways == 4 ? find<4>(ways, tag) : find(ways, m_ways, tag);
      if (way == kNone) {
        way = victim(set);
      }
      touch(set, way);
      m_absent = tag == m_absent ? 0 : m_absent;  // (more than 16 ways)
    }
    ways[way] = Entry{tag, next_table, rights};
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
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  static constexpr std::uint32_t kMaxOrderedWays = 16;
  static constexpr std::uint64_t kNibbles = 0x1111'1111'1111'1111ull;

  std::uint64_t key_of(std::uint64_t va) const { return (va & m_la_mask) >> m_shift; }
  static std::uint64_t tag_of(std::uint64_t key, std::uint16_t pcid) {
    return kValid | (std::uint64_t{pcid} << kPcidShift) | key;
  }

  // The way of `ways` holding tag, or kNone (tags are unique within a set).
  template <std::uint32_t N>
  static std::uint32_t find(const Entry* ways, std::uint64_t tag) {
    for (std::uint32_t w = 0; w < N; ++w) {
      if (ways[w].tag == tag) {
        return w;
      }
    }
    return kNone;
  }
  static std::uint32_t find(const Entry* ways, std::uint32_t n, std::uint64_t tag) {
    for (std::uint32_t w = 0; w < n; ++w) {
      if (ways[w].tag == tag) {
        return w;
      }
    }
    return kNone;
  }

  // The way was looked up or filled: now the most recent of its set.
  void touch(std::uint64_t set, std::uint32_t way) {
    if (m_used != 0) {
      m_order[set] = to_front(m_order[set], way);
    } else {
      m_stamps[set * m_ways + way] = ++m_clock;
    }
  }
  // The way a fill of an absent tag replaces: an invalid one (the lowest-numbered), else the
  // least recently used.
  std::uint32_t victim(std::uint64_t set) const {
    if (m_used != 0) {
      return static_cast<std::uint32_t>(m_order[set] >> (4 * (m_ways - 1))) & 0xf;
    }
    const std::uint64_t* stamps = &m_stamps[set * m_ways];
    std::uint32_t oldest = 0;
    for (std::uint32_t w = 1; w < m_ways; ++w) {
      oldest = stamps[w] < stamps[oldest] ? w : oldest;
    }
    return oldest;
  }
  // `order` with `way` moved to position 0, the ways before it one position back (the
  // nibble equal to `way` is the lowest zero nibble of order ^ way's).
  static std::uint64_t to_front(std::uint64_t order, std::uint32_t way) {
    const std::uint64_t x = order ^ (kNibbles * way);
    const std::uint64_t zero = (x - kNibbles) & ~x & (kNibbles << 3);
    const unsigned shift = static_cast<unsigned>(std::countr_zero(zero)) & ~3u;
    const std::uint64_t before = (std::uint64_t{1} << shift) - 1;
    return (order & ~((before << 4) | 0xf)) | ((order & before) << 4) | way;
  }
  // After an invalidation: each set's valid ways in their recency order, then its invalid
  // ways in descending order (the lowest-numbered last: the next victim); invalid stamps 0.
  void reorder_after_invalidation();

  unsigned m_level;
  unsigned m_shift;          // pte::index_shift(level): VA bits la_bits-1 : m_shift
  std::uint64_t m_la_mask;   // the linear-address bits that exist
  std::uint64_t m_set_mask;  // sets - 1, or kDisabled
  std::uint32_t m_ways;
  std::uint64_t m_absent = 0;  // a tag the last lookup missed and no fill has stored since; 0: none
  std::uint64_t m_used = 0;    // up to 16 ways: the nibbles of an order word in use; else 0
  std::vector<std::uint64_t> m_order;   // up to 16 ways: each set's recency order
  std::uint64_t m_clock = 0;            // more ways: the last stamp given
  std::vector<std::uint64_t> m_stamps;  // more ways: sets x ways use stamps, 0 for invalid
  std::vector<Entry> m_entries;         // sets x ways, set-major
};

}  // namespace pagesim::walker
