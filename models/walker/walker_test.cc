#include "models/walker/walker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "models/walker/walker_test_machine.h"

namespace pagesim::walker {
namespace {

using testing::caches_off;
using testing::caches_on;
using testing::Machine;
using Outcome = WalkResult::Outcome;

// A linear address with index 3 at every level and a non-zero page offset: away from every
// table's first and last entry, so "index + 1" stays in the same table.
std::uint64_t base_va(unsigned levels) {
  std::uint64_t va = 0x123;
  for (unsigned l = pte::kPt; l <= levels; ++l) {
    va |= std::uint64_t{3} << pte::index_shift(l);
  }
  return va;
}

// The address that differs from `va` only in the index at `level` (one entry further).
std::uint64_t next_at(std::uint64_t va, unsigned level) {
  return va + (std::uint64_t{1} << pte::index_shift(level));
}

// References of a walk from the root to a leaf of `size`: SDM 4.5, one per level from the
// root down to the leaf's level: levels for 4 KiB, levels - 1 for 2 MiB, levels - 2 for 1 GiB.
unsigned full_walk_refs(unsigned levels, PageSize size) { return levels - leaf_level(size) + 1; }

class WalkerGeometry : public ::testing::TestWithParam<std::tuple<unsigned, PageSize>> {
 protected:
  unsigned levels() const { return std::get<0>(GetParam()); }
  PageSize size() const { return std::get<1>(GetParam()); }
  unsigned leaf() const { return leaf_level(size()); }
};

TEST_P(WalkerGeometry, CachesOffEveryWalkIsFullLength) {
  Machine m(levels(), size(), caches_off());
  const std::uint64_t va = base_va(levels());
  m.map(va);
  for (int i = 0; i < 3; ++i) {
    const WalkResult r = m.walk(va);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    // levels, levels - 1, levels - 2 for 4K, 2M, 1G, every time: nothing is cached.
    EXPECT_EQ(r.refs, full_walk_refs(levels(), size()));
    EXPECT_EQ(r.cycles, Cycles(r.refs * Machine::kRefLatency));  // FixedLatency per reference
    EXPECT_EQ(r.fault_level, 0u);
    EXPECT_EQ(r.translation.size, size());
  }
  EXPECT_EQ(m.walker.stats().walks.value(), 3u);
  EXPECT_EQ(m.walker.stats().refs.value(), 3u * full_walk_refs(levels(), size()));
  EXPECT_EQ(m.walker.stats().pd.hits.value() + m.walker.stats().pd.misses.value(), 0u);
}

TEST_P(WalkerGeometry, TranslationIsTheDataFrameTheOsMapped) {
  Machine m(levels(), size(), caches_off());
  const std::uint64_t va = base_va(levels());
  m.map(va);
  const WalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  // NativeOs frame order: table frames ascend from 1 MiB; data frames of every size
  // descend from the top of memory, so the first data page is the topmost of its size.
  const std::uint64_t expected_base = Machine::kMemoryBytes - page_bytes(size());
  EXPECT_EQ(r.translation.page_base, Hpa(expected_base));
  EXPECT_EQ(r.translation.hpa_of(va), Hpa(expected_base | (va & (page_bytes(size()) - 1))));
  // NativeOs maps R/W = 1, U/S = 1, XD = 0 at every level.
  EXPECT_TRUE(r.translation.writable);
  EXPECT_TRUE(r.translation.user);
  EXPECT_TRUE(r.translation.executable);
}

// A first walk at A, then a walk at B whose highest differing index is at level k. They
// share the entries above level k, so the deepest cached entry B can use is A's entry at
// level k + 1 and B's walk reads levels k down to the leaf: k - leaf + 1 references (1 when
// B is in A's page, k = leaf). k = levels shares nothing but the root: a full walk.
TEST_P(WalkerGeometry, CachesOnSkipTheSharedUpperLevels) {
  for (unsigned k = leaf(); k <= levels(); ++k) {
    SCOPED_TRACE("highest differing level " + std::to_string(k));
    Machine m(levels(), size(), caches_on());
    const std::uint64_t a = base_va(levels());
    const std::uint64_t b = k == leaf() ? a + 8 : next_at(a, k);
    m.map(a);
    if (b >> page_shift(size()) != a >> page_shift(size())) {
      m.map(b);
    }
    EXPECT_EQ(m.walk(a).refs, full_walk_refs(levels(), size()));  // cold caches
    const WalkResult r = m.walk(b);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(r.refs, k - leaf() + 1);
    EXPECT_GE(r.refs, 1u);  // never fewer than one: leaves are not in these caches
    if (k < levels()) {
      // The hit was in the cache of level k + 1; it saved levels - k references.
      const PscStats* hit_stats[] = {&m.walker.stats().pd, &m.walker.stats().pdpt,
                                     &m.walker.stats().pml4, &m.walker.stats().pml5};
      EXPECT_EQ(hit_stats[k + 1 - pte::kPd]->hits.value(), 1u);
      EXPECT_EQ(hit_stats[k + 1 - pte::kPd]->refs_saved.value(), levels() - k);
    }
    // A PSC hit carries the rights and the table address: same translation as from scratch.
    EXPECT_EQ(r.translation.page_base, m.walker.translate_debug(m.root(), Gva(b))->page_base);
  }
}

// A walk ends at the first not-present entry; at level L it has made levels - L + 1
// references (the PML4 or PML5 root first). B differs from a mapped A at level k, so B's
// entry at level k is the first one missing.
TEST_P(WalkerGeometry, FaultingWalkCountsItsReferences) {
  for (unsigned k = leaf(); k <= levels(); ++k) {
    SCOPED_TRACE("missing level " + std::to_string(k));
    Machine m(levels(), size(), caches_off());
    const std::uint64_t a = base_va(levels());
    m.map(a);
    const WalkResult r = m.walk(next_at(a, k));
    EXPECT_EQ(r.outcome, Outcome::kNotPresent);
    EXPECT_EQ(r.fault_level, k);
    EXPECT_EQ(r.refs, levels() - k + 1);
    EXPECT_EQ(r.cycles, Cycles(r.refs * Machine::kRefLatency));
    EXPECT_EQ(m.walker.stats().faults.value(), 1u);
    EXPECT_EQ(m.walker.stats().refs.value(), r.refs);
  }
}

TEST_P(WalkerGeometry, FreshAddressSpaceFaultsAtTheRoot) {
  Machine m(levels(), size(), caches_on());
  const WalkResult r = m.walk(base_va(levels()));
  EXPECT_EQ(r.outcome, Outcome::kNotPresent);
  EXPECT_EQ(r.fault_level, levels());  // the root table is all zeroes
  EXPECT_EQ(r.refs, 1u);
}

// SDM 4.8: A is set in every entry the walk uses; D in the leaf on a write. Each entry
// written counts once in ad_updates.
TEST_P(WalkerGeometry, AccessedAndDirtyFlagsAreWrittenToMemory) {
  Machine m(levels(), size(), caches_off());
  const std::uint64_t va = base_va(levels());
  m.map(va);
  const std::vector<Hpa> chain = m.entry_chain(va);
  ASSERT_EQ(chain.size(), full_walk_refs(levels(), size()));
  for (Hpa e : chain) {
    EXPECT_EQ(m.memory.read_u64(e) & (pte::kAccessed | pte::kDirty), 0u);  // NativeOs: A=D=0
  }

  WalkResult r = m.walk(va, AccessKind::kRead);
  for (Hpa e : chain) {
    EXPECT_NE(m.memory.read_u64(e) & pte::kAccessed, 0u);
    EXPECT_EQ(m.memory.read_u64(e) & pte::kDirty, 0u);  // a read sets no D
  }
  EXPECT_FALSE(r.translation.dirty);
  EXPECT_EQ(m.walker.stats().ad_updates.value(), chain.size());  // one A per entry

  r = m.walk(va, AccessKind::kRead);
  EXPECT_EQ(m.walker.stats().ad_updates.value(), chain.size());  // A already set: no writes

  r = m.walk(va, AccessKind::kWrite);
  EXPECT_TRUE(r.translation.dirty);
  EXPECT_NE(m.memory.read_u64(chain.back()) & pte::kDirty, 0u);  // the leaf
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    EXPECT_EQ(m.memory.read_u64(chain[i]) & pte::kDirty, 0u);  // non-leaves have no D
  }
  EXPECT_EQ(m.walker.stats().ad_updates.value(), chain.size() + 1);  // the leaf's D

  r = m.walk(va, AccessKind::kWrite);
  EXPECT_EQ(m.walker.stats().ad_updates.value(), chain.size() + 1);
}

TEST_P(WalkerGeometry, TranslateDebugAgreesWithWalkAndChangesNothing) {
  Machine m(levels(), size(), caches_on());
  const std::uint64_t a = base_va(levels());
  const std::uint64_t b = next_at(a, leaf());
  m.map(a);
  m.map(b);
  const std::vector<Hpa> chain = m.entry_chain(a);
  std::vector<std::uint64_t> before;
  for (Hpa e : chain) {
    before.push_back(m.memory.read_u64(e));
  }

  const std::optional<Translation> t = m.walker.translate_debug(m.root(), Gva(a));
  ASSERT_TRUE(t.has_value());
  for (std::size_t i = 0; i < chain.size(); ++i) {
    EXPECT_EQ(m.memory.read_u64(chain[i]), before[i]);  // no A/D update
  }
  EXPECT_EQ(m.walker.stats().walks.value(), 0u);  // no statistics
  EXPECT_EQ(m.walker.stats().refs.value(), 0u);
  for (unsigned l = pte::kPd; l <= pte::kPml5; ++l) {
    EXPECT_EQ(m.walker.cache(l).valid_entries(), 0u);  // no fills
  }
  EXPECT_FALSE(m.walker.translate_debug(m.root(), Gva(next_at(a, levels()))).has_value());

  // The first real walk is still full length (no fill happened), and agrees.
  const WalkResult r = m.walk(a, AccessKind::kWrite);
  EXPECT_EQ(r.refs, full_walk_refs(levels(), size()));
  EXPECT_EQ(r.translation.page_base, t->page_base);
  EXPECT_EQ(r.translation.size, t->size);
  EXPECT_EQ(r.translation.writable, t->writable);
  EXPECT_EQ(r.translation.user, t->user);
  EXPECT_EQ(r.translation.executable, t->executable);
  EXPECT_FALSE(t->dirty);
  EXPECT_TRUE(m.walker.translate_debug(m.root(), Gva(a))->dirty);  // now D is in memory
  // A walk through the caches agrees as well.
  const WalkResult rb = m.walk(b);
  EXPECT_EQ(rb.translation.page_base, m.walker.translate_debug(m.root(), Gva(b))->page_base);
}

std::string geometry_name(const ::testing::TestParamInfo<std::tuple<unsigned, PageSize>>& i) {
  return "L" + std::to_string(std::get<0>(i.param)) + "_" +
         std::string(page_size_name(std::get<1>(i.param)));
}

INSTANTIATE_TEST_SUITE_P(LevelsAndPageSizes, WalkerGeometry,
                         ::testing::Combine(::testing::Values(4u, 5u),
                                            ::testing::Values(PageSize::k4K, PageSize::k2M,
                                                              PageSize::k1G)),
                         geometry_name);

// Fixed scenarios with 4 KiB pages, over 4 and 5 levels.
class WalkerLevels : public ::testing::TestWithParam<unsigned> {
 protected:
  unsigned levels() const { return GetParam(); }
};

constexpr std::uint64_t k4K = 4 * kKiB;

TEST_P(WalkerLevels, SecondWalkInTheSame2MiBRegionIsOneReference) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  m.map(a);
  m.map(a + k4K);
  EXPECT_EQ(m.walk(a).refs, levels());
  // The PDE of A's walk is in the PDE cache: only the PTE is read.
  EXPECT_EQ(m.walk(a + k4K).refs, 1u);
  EXPECT_EQ(m.walker.stats().pd.hits.value(), 1u);
  EXPECT_EQ(m.walker.stats().pd.misses.value(), 1u);  // the first, cold walk
  EXPECT_EQ(m.walker.stats().pd.refs_saved.value(), levels() - 1);
}

TEST_P(WalkerLevels, SameGiBOther2MiBIsTwoReferencesWithThePdpteCache) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  const std::uint64_t b = a + 2 * kMiB;
  m.map(a);
  m.map(b);
  EXPECT_EQ(m.walk(a).refs, levels());
  // PDE cache misses (other 2 MiB region); PDPTE cache hits: read the PDE and the PTE.
  EXPECT_EQ(m.walk(b).refs, 2u);
  EXPECT_EQ(m.walker.stats().pdpt.hits.value(), 1u);
  EXPECT_EQ(m.walker.stats().pd.misses.value(), 2u);
}

TEST_P(WalkerLevels, RetryAfterAFaultUsesEntriesTheFaultingWalkCached) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  m.map(a);
  // B's PTE is missing; the walk reads every level and caches the present upper entries.
  const WalkResult fault = m.walk(a + k4K);
  EXPECT_EQ(fault.outcome, Outcome::kNotPresent);
  EXPECT_EQ(fault.fault_level, pte::kPt);
  EXPECT_EQ(fault.refs, levels());
  m.map(a + k4K);
  EXPECT_EQ(m.walk(a + k4K).refs, 1u);  // PDE-cache hit: no invalidation needed for P 0 -> 1
}

TEST_P(WalkerLevels, InvalidationsDropCachedEntries) {
  struct Case {
    const char* name;
    void (*invalidate)(Walker&);
    bool full_walk_after;  // whether PCID 0's entries are gone
  };
  const Case cases[] = {
      {"invalidate_all", [](Walker& w) { w.invalidate_all(); }, true},
      {"invalidate_pcid(0)", [](Walker& w) { w.invalidate_pcid(0); }, true},
      // INVLPG drops every PSC entry of the PCID, whatever the address (SDM 4.10.4.1).
      {"invalidate_page(far away, 0)",
       [](Walker& w) { w.invalidate_page(Gva(0x7000'0000'0000), 0); }, true},
      {"invalidate_pcid(1)", [](Walker& w) { w.invalidate_pcid(1); }, false},
      {"invalidate_page(any, 1)", [](Walker& w) { w.invalidate_page(Gva(0), 1); }, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Machine m(levels(), PageSize::k4K, caches_on());
    const std::uint64_t a = base_va(levels());
    m.map(a);
    m.map(a + k4K);
    EXPECT_EQ(m.walk(a).refs, levels());
    c.invalidate(m.walker);
    EXPECT_EQ(m.walk(a + k4K).refs, c.full_walk_after ? levels() : 1u);
  }
}

TEST_P(WalkerLevels, CacheEntriesAreTaggedByPcid) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  m.map(a, 1);
  m.map(a, 2);
  EXPECT_NE(m.root(1), m.root(2));
  EXPECT_EQ(m.walk(a, AccessKind::kRead, 1).refs, levels());
  // Same VA, other PCID: PCID 1's entries do not apply (they point into PCID 1's tables).
  const WalkResult r2 = m.walk(a, AccessKind::kRead, 2);
  EXPECT_EQ(r2.refs, levels());
  EXPECT_EQ(r2.translation.page_base, m.walker.translate_debug(m.root(2), Gva(a))->page_base);
  EXPECT_EQ(m.walk(a, AccessKind::kRead, 1).refs, 1u);
  EXPECT_EQ(m.walk(a, AccessKind::kRead, 2).refs, 1u);
  // The tag is the PCID, not the root: PCID 3 on PCID 1's tables starts cold.
  EXPECT_EQ(m.walker.walk(WalkRequest{m.root(1), Gva(a), AccessKind::kRead, 3}).refs, levels());
  m.walker.invalidate_pcid(1);
  EXPECT_EQ(m.walk(a, AccessKind::kRead, 1).refs, levels());
  EXPECT_EQ(m.walk(a, AccessKind::kRead, 2).refs, 1u);
}

TEST_P(WalkerLevels, ZeroEntriesTurnsOneCacheOff) {
  WalkerParams p;
  p.pwc.pd.entries = 0;
  Machine m(levels(), PageSize::k4K, p);
  const std::uint64_t a = base_va(levels());
  m.map(a);
  m.map(a + k4K);
  EXPECT_FALSE(m.walker.cache(pte::kPd).enabled());
  EXPECT_EQ(m.walk(a).refs, levels());
  // No PDE cache: the PDPTE cache hits, leaving the PDE and the PTE.
  EXPECT_EQ(m.walk(a + k4K).refs, 2u);
  EXPECT_EQ(m.walker.stats().pd.misses.value(), 0u);  // an absent cache counts nothing
}

// for_each_cached_hpa reports, for each paging-structure-cache entry a walk made, the
// frame of the next table: the level L entry's is the table at level L - 1 on the walk.
TEST_P(WalkerLevels, ForEachCachedHpaReportsTheNextTables) {
  using Seen = std::vector<std::pair<std::string, std::uint64_t>>;
  const auto visit = [](const Walker& w) {
    Seen seen;
    w.for_each_cached_hpa(
        [&seen](Hpa frame, const char* what) { seen.emplace_back(what, frame.value()); });
    std::sort(seen.begin(), seen.end());
    return seen;
  };
  // The walk of `va` in address space `asid` caches its entries at levels levels..2: one
  // per level, levels - 1 in all (3 with 4-level paging, 4 with 5), each holding the frame
  // of the table one level down (entry_chain()[i] is the entry at level levels - i).
  const auto expected = [&](Machine& m, std::uint64_t va, std::uint16_t asid) {
    static constexpr const char* kNames[] = {"PSC PDE", "PSC PDPTE", "PSC PML4E", "PSC PML5E"};
    const std::vector<Hpa> chain = m.entry_chain(va, asid);
    EXPECT_EQ(chain.size(), levels());
    Seen seen;
    for (unsigned l = pte::kPd; l <= levels(); ++l) {
      seen.emplace_back(kNames[l - pte::kPd], chain[levels() - l + 1].value() & ~(k4K - 1));
    }
    return seen;
  };
  const auto merged = [](Seen a, const Seen& b) {
    a.insert(a.end(), b.begin(), b.end());
    std::sort(a.begin(), a.end());
    return a;
  };

  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  m.map(a, 0);
  m.map(a, 1);  // another address space: its own tables
  EXPECT_TRUE(visit(m.walker).empty());
  ASSERT_EQ(m.walk(a, AccessKind::kRead, 0).outcome, Outcome::kOk);
  Seen pcid0 = expected(m, a, 0);
  std::sort(pcid0.begin(), pcid0.end());
  EXPECT_EQ(visit(m.walker), pcid0);
  ASSERT_EQ(m.walk(a, AccessKind::kRead, 1).outcome, Outcome::kOk);
  // 2 (levels - 1) entries, the two PCIDs' tables.
  const Seen both = merged(pcid0, expected(m, a, 1));
  EXPECT_EQ(both.size(), 2u * (levels() - 1));
  EXPECT_EQ(visit(m.walker), both);
  EXPECT_EQ(m.walker.stats().walks.value(), 2u);  // visiting walks nothing

  m.walker.invalidate_pcid(1);
  EXPECT_EQ(visit(m.walker), pcid0);
  m.walker.invalidate_page(Gva(a), 0);  // INVLPG: every entry of PCID 0
  EXPECT_TRUE(visit(m.walker).empty());

  // With the caches off a walk caches nothing.
  Machine off(levels(), PageSize::k4K, caches_off());
  off.map(a);
  ASSERT_EQ(off.walk(a).outcome, Outcome::kOk);
  EXPECT_TRUE(visit(off.walker).empty());
}

TEST_P(WalkerLevels, CombinedRightsComeFromEveryLevelAndFromTheCaches) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t a = base_va(levels());
  m.map(a);
  m.map(a + k4K);
  const std::vector<Hpa> chain = m.entry_chain(a);
  const Hpa pdpte = chain[levels() - pte::kPdpt];
  const Hpa root_entry = chain[0];
  m.memory.write_u64(pdpte, m.memory.read_u64(pdpte) & ~pte::kRw);  // read-only 1 GiB region
  m.memory.write_u64(root_entry, m.memory.read_u64(root_entry) | pte::kXd);

  const WalkResult w = m.walk(a, AccessKind::kWrite);
  EXPECT_FALSE(w.translation.writable);    // R/W = 0 at one level forbids writes
  EXPECT_FALSE(w.translation.executable);  // XD = 1 at one level forbids fetches
  EXPECT_TRUE(w.translation.user);
  EXPECT_FALSE(w.translation.dirty);  // a write the rights forbid sets no D
  EXPECT_EQ(m.memory.read_u64(chain.back()) & pte::kDirty, 0u);

  // The PDE-cache entry holds the combined rights (SDM 4.10.3.1).
  const WalkResult r = m.walk(a + k4K, AccessKind::kRead);
  EXPECT_EQ(r.refs, 1u);
  EXPECT_FALSE(r.translation.writable);
  EXPECT_FALSE(r.translation.executable);
}

TEST_P(WalkerLevels, RandomTouchesStayWithinOneAndLevelsReferences) {
  Machine m(levels(), PageSize::k4K, caches_on());
  std::uint64_t x = 88172645463325252ull;  // xorshift64, fixed seed
  for (int i = 0; i < 3000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // A 16 GiB footprint in each of four root-table slots: tables are shared, caches hit.
    const std::uint64_t va =
        (x & ((std::uint64_t{1} << 34) - 1)) | ((x >> 62) << pte::index_shift(levels()));
    const WalkResult r = m.touch(va, i % 3 == 0 ? AccessKind::kWrite : AccessKind::kRead);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    ASSERT_GE(r.refs, 1u);
    ASSERT_LE(r.refs, levels());
    ASSERT_EQ(r.translation.page_base, m.walker.translate_debug(m.root(), Gva(va))->page_base);
  }
  const std::uint64_t walks = m.walker.stats().walks.value();
  // Every touch walked once, plus once more after each fault.
  EXPECT_EQ(walks, 3000 + m.os.stats().page_faults.value());
  EXPECT_EQ(m.walker.stats().faults.value(), m.os.stats().page_faults.value());
  EXPECT_EQ(m.walker.stats().refs_per_walk.samples(), walks);
  EXPECT_EQ(m.walker.stats().refs_per_walk.sum(), m.walker.stats().refs.value());
  EXPECT_EQ(m.walker.stats().cycles.value(), m.walker.stats().refs.value() * Machine::kRefLatency);
}

TEST_P(WalkerLevels, HistogramsBinEachWalk) {
  Machine m(levels(), PageSize::k4K, caches_off());
  const std::uint64_t a = base_va(levels());
  m.map(a);
  m.walk(a);
  m.walk(a);
  EXPECT_EQ(m.walker.stats().refs_per_walk.bins()[levels()], 2u);  // bin i holds i refs
  // levels x 100 cycles: 400 is in log2 bin 9 = [256, 512), 500 too.
  EXPECT_EQ(m.walker.stats().cycles_per_walk.bins()[9], 2u);
}

INSTANTIATE_TEST_SUITE_P(FourAndFive, WalkerLevels, ::testing::Values(4u, 5u),
                         [](const ::testing::TestParamInfo<unsigned>& i) {
                           return "L" + std::to_string(i.param);
                         });

// The walk prefetch is a host-side hint: a walker told prefetch(next, after) before each
// walk walks exactly as one told nothing, with the same statistics, also once the tables it
// remembers are torn down and others take their frames (a stale memo of page tables loads
// the wrong host lines and changes nothing).
TEST_P(WalkerGeometry, PrefetchChangesNothing) {
  Machine hinted(levels(), size(), caches_on());
  Machine plain(levels(), size(), caches_on());
  std::vector<std::uint64_t> vas;
  std::uint64_t x = 20261208;
  for (int i = 0; i < 300; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // an LCG: any spread will do
    vas.push_back(base_va(levels()) + ((x >> 16) % (1 * kGiB)));
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 0; i < vas.size(); ++i) {
      const std::uint64_t next = vas[(i + 1) % vas.size()];
      hinted.walker.prefetch(Gva(next), Gva(vas[(i + 2) % vas.size()]));
      const WalkResult a = hinted.touch(vas[i]);
      const WalkResult b = plain.touch(vas[i]);
      ASSERT_EQ(a.outcome, b.outcome) << i;
      EXPECT_EQ(a.refs, b.refs) << i;
      EXPECT_EQ(a.cycles, b.cycles) << i;
      EXPECT_EQ(a.translation.page_base, b.translation.page_base) << i;
      EXPECT_EQ(a.translation.size, b.translation.size) << i;
    }
    // The address space goes (its tables freed) and a fresh one takes its frames.
    hinted.os.destroy_address_space(0);
    plain.os.destroy_address_space(0);
    hinted.walker.invalidate_all();
    plain.walker.invalidate_all();
  }
  const std::vector<stats::Row> a = stats::collect(hinted.stats_root);
  const std::vector<stats::Row> b = stats::collect(plain.stats_root);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].path, b[i].path);
    EXPECT_EQ(a[i].value, b[i].value) << a[i].path;
  }
}

TEST(Walker, LevelsOtherThanFourOrFiveAreRejected) {
  mem::PhysicalMemory memory(16 * kMiB);
  mem::FixedLatency timing(Cycles(1));
  EXPECT_THROW(Walker(WalkerParams{}, 3, memory, timing, nullptr), std::invalid_argument);
  EXPECT_THROW(Walker(WalkerParams{}, 6, memory, timing, nullptr), std::invalid_argument);
}

TEST(Walker, FourLevelPagingHasNoPml5Cache) {
  Machine m4(4, PageSize::k4K, caches_on());
  Machine m5(5, PageSize::k4K, caches_on());
  EXPECT_FALSE(m4.walker.cache(pte::kPml5).enabled());
  EXPECT_TRUE(m5.walker.cache(pte::kPml5).enabled());
}

TEST(Walker, StatisticNames) {
  Machine m(4, PageSize::k4K, caches_on());
  std::vector<std::string> paths;
  for (const stats::Row& row : stats::collect(m.stats_root)) {
    paths.push_back(row.path);
  }
  for (const char* want :
       {"walker.walks", "walker.refs", "walker.cycles", "walker.faults", "walker.ad_updates",
        "walker.refs_per_walk", "walker.cycles_per_walk", "walker.pwc.pd.hits",
        "walker.pwc.pdpt.misses", "walker.pwc.pml4.refs_saved", "walker.pwc.pml5.hits"}) {
    EXPECT_NE(std::find(paths.begin(), paths.end(), want), paths.end()) << want;
  }
}

}  // namespace
}  // namespace pagesim::walker
