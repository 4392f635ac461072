// The set-associative store behind the 2D walker's translation caches
// (models/walker/nested_walker.h): guest paging-structure caches, EPT paging-structure
// caches, the nested TLB and the page-walk cache of entries by host-physical address. Each
// is a WalkCache with its own key, context and payload meaning:
//
//   cache              key                          context           value
//   guest PSC, level L VA bits above index_shift(L) vpid << 16 | pcid HPA of the next guest table
//   EPT PSC, level L   GPA bits above index_shift(L) EPT root frame   HPA of the next EPT table
//   nested TLB         GPA >> 12                    EPT root frame    HPA of the 4 KiB frame
//   page-walk cache    entry HPA >> 3               guest or EPT      the 8-byte entry
//
// Organisation as the native paging-structure caches (paging_structure_cache.h):
// `entries / ways` sets (a power of two) of `ways` entries, set index = the key's low bits,
// true LRU by use stamps (invalid entries first, lowest way on ties). `entries == 0` makes
// the cache absent: lookups miss and fills do nothing.
//
// Hot path: lookup() and fill() scan one set of a flat array; no allocation.
// for_each_entry() is for --check's audit, not for the walk: what an entry's key and value
// mean in host-physical terms is the owner's to say (NestedWalker::for_each_cached_hpa).
#pragma once

#include <cstdint>
#include <vector>

namespace pagesim::walker {

class WalkCache {
 public:
  struct Entry {
    std::uint64_t tag = 0;       // kValid | key
    std::uint64_t context = 0;   // must match too
    std::uint64_t value = 0;     // see the table above
    std::uint64_t last_use = 0;  // LRU stamp; 0: never used
    std::uint8_t rights = 0;     // pte::Rights combined above, where the cache keeps them
    std::uint8_t aux = 0;        // per cache: references a cache-off walk makes for this part
  };

  // Throws std::invalid_argument (naming `what`) unless entries is 0 or entries / ways is a
  // power of two.
  WalkCache(std::uint32_t entries, std::uint32_t ways, const char* what);

  bool enabled() const { return m_set_mask != kDisabled; }
  std::uint32_t entries() const { return static_cast<std::uint32_t>(m_entries.size()); }
  std::uint32_t ways() const { return m_ways; }

  // The entry for (key, context), or null. A hit makes it its set's most recent entry.
  const Entry* lookup(std::uint64_t key, std::uint64_t context) {
    if (!enabled()) {
      return nullptr;
    }
    const std::uint64_t tag = kValid | key;
    Entry* set = &m_entries[(key & m_set_mask) * m_ways];
    if (m_ways == 4) {  // every cache's default geometry: the same scan, unrolled
#pragma GCC unroll 4
      for (std::uint32_t w = 0; w < 4; ++w) {
        if (set[w].tag == tag && set[w].context == context) {
          set[w].last_use = ++m_clock;
          return &set[w];
        }
      }
      return nullptr;
    }
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w].tag == tag && set[w].context == context) {
        set[w].last_use = ++m_clock;
        return &set[w];
      }
    }
    return nullptr;
  }

  // Caches (key, context) -> value: replaces the same tag, else an invalid entry, else the
  // least recently used.
  void fill(std::uint64_t key, std::uint64_t context, std::uint64_t value, std::uint8_t rights,
            std::uint8_t aux) {
    if (!enabled()) {
      return;
    }
    const std::uint64_t tag = kValid | key;
    Entry* set = &m_entries[(key & m_set_mask) * m_ways];
    Entry* victim = &set[0];
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w].tag == tag && set[w].context == context) {
        victim = &set[w];
        break;
      }
      if (set[w].last_use < victim->last_use) {
        victim = &set[w];
      }
    }
    *victim = Entry{tag, context, value, ++m_clock, rights, aux};
  }

  // fill() of a (key, context) that is not cached: the caller looked it up and missed, and
  // nothing changed this cache since. The same entry replaced and written as fill() (which
  // finds no entry of the tag and takes the LRU one), without comparing tags.
  void fill_absent(std::uint64_t key, std::uint64_t context, std::uint64_t value,
                   std::uint8_t rights, std::uint8_t aux) {
    if (!enabled()) {
      return;
    }
    Entry* set = &m_entries[(key & m_set_mask) * m_ways];
    Entry* victim = &set[0];
    if (m_ways == 4) {  // unrolled, as in lookup()
#pragma GCC unroll 4
      for (std::uint32_t w = 1; w < 4; ++w) {
        if (set[w].last_use < victim->last_use) {
          victim = &set[w];
        }
      }
    } else {
      for (std::uint32_t w = 1; w < m_ways; ++w) {
        if (set[w].last_use < victim->last_use) {
          victim = &set[w];
        }
      }
    }
    *victim = Entry{kValid | key, context, value, ++m_clock, rights, aux};
  }

  void invalidate_all();
  // Drops every entry whose (context & mask) == want.
  void invalidate_context(std::uint64_t mask, std::uint64_t want);
  // Drops the entry for (key, context) if cached.
  void invalidate_key(std::uint64_t key, std::uint64_t context);

  // Valid entries, for tests and debugging.
  std::uint32_t valid_entries() const;

  // Calls f(std::uint64_t key, std::uint64_t context, std::uint64_t value) once per valid
  // entry, in no particular order, with the key, context and value it was filled with (the
  // table above). Read-only (no LRU update); O(entries).
  template <class F>
  void for_each_entry(F&& f) const {
    for (const Entry& e : m_entries) {
      if ((e.tag & kValid) != 0) {
        f(e.tag & ~kValid, e.context, e.value);
      }
    }
  }

 private:
  static constexpr std::uint64_t kValid = std::uint64_t{1} << 63;  // keys use < 62 bits
  static constexpr std::uint64_t kDisabled = ~std::uint64_t{0};

  std::uint64_t m_set_mask = kDisabled;
  std::uint32_t m_ways = 1;
  std::uint64_t m_clock = 0;
  std::vector<Entry> m_entries;  // sets x ways, set-major
};

}  // namespace pagesim::walker
