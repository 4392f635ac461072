#include "models/walker/paging_structure_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pagesim::walker {
namespace {

constexpr std::uint64_t k2M = std::uint64_t{1} << 21;

// A PDE cache with 2 sets of 2 ways: the set is bit 21 of the VA (the low bit of 47:21).
PagingStructureCache make_pde_cache() {
  return PagingStructureCache(PscParams{.entries = 4, .ways = 2}, pte::kPd, 48);
}

TEST(PagingStructureCache, HitReturnsTheFilledEntry) {
  PagingStructureCache c = make_pde_cache();
  EXPECT_EQ(c.lookup(0x1234567, 0), nullptr);
  c.fill(0x1234567, 0, 0x5000, pte::kAllowUser);
  const PagingStructureCache::Entry* e = c.lookup(0x1234567, 0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->next_table, 0x5000u);
  EXPECT_EQ(e->rights, pte::kAllowUser);
  // Any VA with the same bits 47:21 hits: the entry maps a 2 MiB region.
  const std::uint64_t region = 0x1234567 & ~(k2M - 1);
  EXPECT_NE(c.lookup(region, 0), nullptr);
  EXPECT_NE(c.lookup(region + k2M - 1, 0), nullptr);
  EXPECT_EQ(c.lookup(region + k2M, 0), nullptr);
}

TEST(PagingStructureCache, TagIgnoresBitsAboveTheLinearAddress) {
  // 4-level paging: bits 63:48 are the sign extension, not part of the tag.
  PagingStructureCache c = make_pde_cache();
  c.fill(0x0000'7fff'ffe0'0000, 0, 0x5000, pte::kAllRights);
  EXPECT_NE(c.lookup(0xffff'7fff'ffe0'0000, 0), nullptr);
}

TEST(PagingStructureCache, LruWithinASet) {
  PagingStructureCache c = make_pde_cache();
  // Regions 0, 2, 4 (x 2 MiB) all have bit 21 = 0: set 0, which holds two.
  c.fill(0 * k2M, 0, 0x1000, 0);
  c.fill(2 * k2M, 0, 0x2000, 0);
  ASSERT_NE(c.lookup(0 * k2M, 0), nullptr);  // region 0 is now the most recent
  c.fill(4 * k2M, 0, 0x3000, 0);             // evicts region 2, the least recent
  EXPECT_NE(c.lookup(0 * k2M, 0), nullptr);
  EXPECT_EQ(c.lookup(2 * k2M, 0), nullptr);
  EXPECT_NE(c.lookup(4 * k2M, 0), nullptr);
  // Set 1 (odd regions) was untouched.
  c.fill(1 * k2M, 0, 0x4000, 0);
  EXPECT_EQ(c.valid_entries(), 3u);
}

TEST(PagingStructureCache, RefillOfTheSameTagReplacesInPlace) {
  PagingStructureCache c = make_pde_cache();
  c.fill(0, 0, 0x1000, 0);
  c.fill(0, 0, 0x9000, 0);
  EXPECT_EQ(c.valid_entries(), 1u);
  EXPECT_EQ(c.lookup(0, 0)->next_table, 0x9000u);
}

TEST(PagingStructureCache, PcidTagsAndInvalidation) {
  PagingStructureCache c = make_pde_cache();
  c.fill(0, 1, 0x1000, 0);
  c.fill(k2M, 2, 0x2000, 0);
  EXPECT_EQ(c.lookup(0, 2), nullptr);  // same VA, other PCID: no hit
  EXPECT_NE(c.lookup(0, 1), nullptr);
  c.invalidate_pcid(1);
  EXPECT_EQ(c.lookup(0, 1), nullptr);
  EXPECT_NE(c.lookup(k2M, 2), nullptr);  // PCID 2 untouched
  c.invalidate_all();
  EXPECT_EQ(c.valid_entries(), 0u);
}

TEST(PagingStructureCache, ZeroEntriesIsAbsent) {
  PagingStructureCache c(PscParams{.entries = 0, .ways = 1}, pte::kPdpt, 48);
  EXPECT_FALSE(c.enabled());
  c.fill(0, 0, 0x1000, 0);
  EXPECT_EQ(c.lookup(0, 0), nullptr);
}

// What for_each_hpa reported, sorted: (what, next-table HPA).
std::vector<std::pair<std::string, std::uint64_t>> visit(const PagingStructureCache& c) {
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  c.for_each_hpa([&seen](Hpa table, const char* what) { seen.emplace_back(what, table.value()); });
  std::sort(seen.begin(), seen.end());
  return seen;
}

TEST(PagingStructureCache, ForEachHpaReportsEveryValidNextTable) {
  PagingStructureCache c = make_pde_cache();  // 2 sets of 2 ways
  c.fill(0 * k2M, 1, 0x1000, 0);              // set 0
  c.fill(1 * k2M, 2, 0x2000, 0);              // set 1
  c.fill(2 * k2M, 1, 0x3000, 0);              // set 0, now full
  c.fill(0 * k2M, 1, 0x9000, 0);              // in place: region 0 now points at 0x9000
  c.fill(4 * k2M, 1, 0x4000, 0);              // set 0: evicts region 2, the least recent
  // 3 valid entries; the replaced 0x1000 and the evicted 0x3000 are not reported.
  using Seen = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(visit(c), (Seen{{"PSC PDE", 0x2000}, {"PSC PDE", 0x4000}, {"PSC PDE", 0x9000}}));
  EXPECT_EQ(c.valid_entries(), 3u);
  c.invalidate_pcid(1);  // regions 0 and 4
  EXPECT_EQ(visit(c), (Seen{{"PSC PDE", 0x2000}}));
  c.invalidate_all();
  EXPECT_TRUE(visit(c).empty());

  // Each level reports under its own name; an absent cache reports nothing.
  PagingStructureCache pml4(PscParams{.entries = 2, .ways = 2}, pte::kPml4, 57);
  pml4.fill(0, 0, 0x7000, 0);
  EXPECT_EQ(visit(pml4), (Seen{{"PSC PML4E", 0x7000}}));
  PagingStructureCache absent(PscParams{.entries = 0, .ways = 1}, pte::kPml5, 57);
  absent.fill(0, 0, 0x8000, 0);
  EXPECT_TRUE(visit(absent).empty());
  EXPECT_STREQ(PagingStructureCache(PscParams{}, pte::kPdpt, 48).name(), "PSC PDPTE");
  EXPECT_STREQ(PagingStructureCache(PscParams{}, pte::kPml5, 57).name(), "PSC PML5E");
}

// The replacement rule as stamps (the reference): a lookup hit or a fill stamps the entry
// with a clock; a fill replaces the same tag, else the entry with the smallest stamp (0:
// invalid, so invalid entries first), the lowest way on ties.
class ReferencePsc {
 public:
  ReferencePsc(std::uint32_t sets, std::uint32_t ways) : m_sets(sets), m_ways(ways) {
    m_e.resize(sets * ways);
  }
  std::uint64_t lookup(std::uint64_t key, std::uint16_t pcid) {  // next_table, or 0
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      E& e = m_e[(key % m_sets) * m_ways + w];
      if (e.stamp != 0 && e.key == key && e.pcid == pcid) {
        e.stamp = ++m_clock;
        return e.next;
      }
    }
    return 0;
  }
  void fill(std::uint64_t key, std::uint16_t pcid, std::uint64_t next) {
    E* set = &m_e[(key % m_sets) * m_ways];
    E* victim = &set[0];
    for (std::uint32_t w = 0; w < m_ways; ++w) {
      if (set[w].stamp != 0 && set[w].key == key && set[w].pcid == pcid) {
        victim = &set[w];
        break;
      }
      victim = set[w].stamp < victim->stamp ? &set[w] : victim;
    }
    *victim = E{key, pcid, next, ++m_clock};
  }
  void invalidate_pcid(std::uint16_t pcid) {
    for (E& e : m_e) {
      e = e.pcid == pcid ? E{} : e;
    }
  }
  void invalidate_all() { m_e.assign(m_e.size(), E{}); }

 private:
  struct E {
    std::uint64_t key = 0;
    std::uint16_t pcid = 0;
    std::uint64_t next = 0;
    std::uint64_t stamp = 0;  // 0: invalid
  };
  std::uint32_t m_sets;
  std::uint32_t m_ways;
  std::uint64_t m_clock = 0;
  std::vector<E> m_e;
};

// The recency order (up to 16 ways) and the stamps (more), with the fill after a missed
// lookup that takes the victim with no pass over the set, keep exactly the reference's
// entries: random lookups, fills (most right after a lookup that missed the same tag),
// invalidations by PCID and of everything, over every associativity from 1 to 20.
TEST(PagingStructureCache, ReplacementMatchesTheStampReference) {
  for (std::uint32_t ways = 1; ways <= 20; ++ways) {
    for (std::uint32_t sets : {1u, 2u}) {
      PagingStructureCache c(PscParams{.entries = sets * ways, .ways = ways}, pte::kPd, 48);
      ReferencePsc ref(sets, ways);
      std::uint64_t rng = 12345 + ways;
      auto next = [&rng](std::uint64_t bound) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        return (rng >> 33) % bound;
      };
      for (int step = 0; step < 4000; ++step) {
        const std::uint64_t key = next(3 * ways * sets);  // region number: 2 MiB each
        const auto pcid = static_cast<std::uint16_t>(next(2));
        const std::uint64_t table = (step + 1) * 0x1000;
        const std::uint64_t op = next(100);
        if (op < 60) {
          const PagingStructureCache::Entry* e = c.lookup(key * k2M, pcid);
          const std::uint64_t want = ref.lookup(key, pcid);
          ASSERT_EQ(e == nullptr ? 0 : e->next_table, want) << ways << " ways, step " << step;
          if (e == nullptr && next(4) != 0) {  // the walk's fill after the miss
            c.fill(key * k2M, pcid, table, 0);
            ref.fill(key, pcid, table);
          }
        } else if (op < 97) {
          c.fill(key * k2M, pcid, table, 0);
          ref.fill(key, pcid, table);
        } else if (op < 99) {
          c.invalidate_pcid(pcid);
          ref.invalidate_pcid(pcid);
        } else {
          c.invalidate_all();
          ref.invalidate_all();
        }
      }
      // Every tag once more, in order: the same entries hold the same tables.
      std::uint32_t valid = 0;
      for (std::uint64_t key = 0; key < 3 * ways * sets; ++key) {
        for (std::uint16_t pcid = 0; pcid < 2; ++pcid) {
          const PagingStructureCache::Entry* e = c.lookup(key * k2M, pcid);
          ASSERT_EQ(e == nullptr ? 0 : e->next_table, ref.lookup(key, pcid)) << ways << " ways";
          valid += e != nullptr ? 1 : 0;
        }
      }
      EXPECT_EQ(c.valid_entries(), valid);
    }
  }
}

TEST(PagingStructureCache, RejectsImpossibleGeometry) {
  EXPECT_THROW(PagingStructureCache(PscParams{.entries = 6, .ways = 4}, pte::kPd, 48),
               std::invalid_argument);  // not divisible
  EXPECT_THROW(PagingStructureCache(PscParams{.entries = 12, .ways = 4}, pte::kPd, 48),
               std::invalid_argument);  // 3 sets
  EXPECT_THROW(PagingStructureCache(PscParams{.entries = 4, .ways = 4}, pte::kPt, 48),
               std::invalid_argument);  // PTEs are not cached here (the TLB holds leaves)
}

}  // namespace
}  // namespace pagesim::walker
