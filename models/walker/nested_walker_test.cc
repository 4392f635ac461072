#include "models/walker/nested_walker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/stats/stats.h"
#include "models/walker/nested_walker_test_machine.h"

namespace pagesim::walker {
namespace {

using testing::guest_pwc;
using testing::nested_caches;
using testing::NestedConfig;
using testing::NestedMachine;
using Outcome = NestedWalkResult::Outcome;
using ept::NestedFormat;

// Index 3 at every level and a non-zero offset: away from the tables' first entries.
std::uint64_t base_va(unsigned levels) {
  std::uint64_t va = 0x123;
  for (unsigned l = 1; l <= levels; ++l) {
    va |= std::uint64_t{3} << pte::index_shift(l);
  }
  return va;
}

// References of a 2D walk with every cache off, from the walk as the SDM describes it:
// each guest level from n down to the guest leaf's level Lg translates its table's GPA
// (an EPT walk of m - Lh + 1 references, Lh the EPT leaf's level) and reads one entry;
// then the data GPA takes one more EPT walk.
//   (n - Lg + 1)(m - Lh + 2) + (m - Lh + 1); with 4 KiB leaves: n(m+1) + m = (n+1)(m+1)-1.
unsigned formula(unsigned n, PageSize guest, unsigned m, PageSize host) {
  const unsigned ept_walk = m - leaf_level(host) + 1;
  return (n - leaf_level(guest) + 1) * (ept_walk + 1) + ept_walk;
}

NestedConfig config(unsigned n, PageSize guest, unsigned m, PageSize host,
                    NestedFormat format = NestedFormat::kEpt) {
  NestedConfig c;
  c.guest_levels = n;
  c.guest_size = guest;
  c.ept_levels = m;
  c.ept_size = host;
  c.format = format;
  return c;
}

std::uint64_t cell_count(const NestedMachine& m, unsigned g, unsigned h) {
  return m.walker.stats().cells[cell_index(g, h)]->value();
}

// The sum of refs_saved over every cache of the walker.
std::uint64_t total_saved(const NestedWalkerStats& s) {
  return s.pwc_pd.refs_saved.value() + s.pwc_pdpt.refs_saved.value() +
         s.pwc_pml4.refs_saved.value() + s.pwc_pml5.refs_saved.value() +
         s.ept_pwc_pd.refs_saved.value() + s.ept_pwc_pdpt.refs_saved.value() +
         s.ept_pwc_pml4.refs_saved.value() + s.ept_pwc_pml5.refs_saved.value() +
         s.ntlb.refs_saved.value() + s.pte_cache.refs_saved.value();
}

// --- The walk prefetch ------------------------------------------------------------------------

// A host-side hint: a walker told prefetch(next, after) before each walk walks exactly as
// one told nothing, with the same statistics, also once the guest leaf entries it would
// read through its memo are cleared or point at pages the EPT does not map.
TEST(NestedWalkerPrefetch, ChangesNothing) {
  for (const PageSize guest : {PageSize::k4K, PageSize::k2M}) {
    NestedConfig c = config(4, guest, 4, PageSize::k4K);
    c.nested = nested_caches(true, true, false);
    c.guest = guest_pwc(true);
    NestedMachine hinted(c);
    NestedMachine plain(c);
    std::vector<std::uint64_t> vas;
    std::uint64_t x = 8086;
    for (int i = 0; i < 200; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;  // an LCG: any spread will do
      vas.push_back(base_va(4) + ((x >> 16) % (1 * kGiB)));
    }
    for (const std::uint64_t va : vas) {
      hinted.map(va);
      plain.map(va);
    }
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t i = 0; i < vas.size(); ++i) {
        hinted.walker.prefetch(Gva(vas[(i + 1) % vas.size()]), Gva(vas[(i + 2) % vas.size()]));
        const NestedWalkResult a = hinted.walk(vas[i]);
        const NestedWalkResult b = plain.walk(vas[i]);
        ASSERT_EQ(a.outcome, b.outcome) << i;
        EXPECT_EQ(a.refs, b.refs) << i;
        EXPECT_EQ(a.cells, b.cells) << i;
        EXPECT_EQ(a.cycles, b.cycles) << i;
        EXPECT_EQ(a.translation.page_base, b.translation.page_base) << i;
      }
      // The guest changes its leaves behind the memo: every other one cleared, the rest
      // pointed at a GPA the EPT does not map (walks then fault; the hint must not care).
      for (std::size_t i = 0; i < vas.size(); ++i) {
        for (NestedMachine* m : {&hinted, &plain}) {
          const unsigned leaf = leaf_level(guest);
          const Hpa table = m->hpa_of(m->guest_table_gpa(vas[i], leaf));
          const Hpa entry(table.value() | pte::entry_offset(vas[i], leaf));
          m->memory.write_u64(
              entry,
              i % 2 == 0 ? 0 : pte::make_leaf_entry(Hpa(500 * kGiB), guest, pte::kRw | pte::kUser));
          m->walker.invlpg(Gva(vas[i]), 0, NestedMachine::kVpid);
        }
      }
    }
    const std::vector<stats::Row> a = stats::collect(hinted.stats_root);
    const std::vector<stats::Row> b = stats::collect(plain.stats_root);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].value, b[i].value) << a[i].path;
    }
  }
}

// --- Exact counts with every cache off ------------------------------------------------------

TEST(NestedWalkerCounts, FourPlusFourIs24) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  const NestedWalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  // (n+1)(m+1) - 1 = 5 * 5 - 1 = 24 (DESIGN.md; Bhargava et al. ASPLOS 2008, figure 2)
  EXPECT_EQ(r.refs, 24u);
  // 4 guest entries (h = 0); 5 EPT walks of 4 references (4 tables + the data GPA)
  EXPECT_EQ(r.guest_refs, 4u);
  EXPECT_EQ(r.host_refs, 20u);
  EXPECT_EQ(r.cycles, Cycles(24 * NestedMachine::kRefLatency));
}

TEST(NestedWalkerCounts, FivePlusFiveIs35) {
  NestedMachine m(config(5, PageSize::k4K, 5, PageSize::k4K));
  const std::uint64_t va = base_va(5);
  m.map(va);
  // (5+1)(5+1) - 1 = 35
  EXPECT_EQ(m.walk(va).refs, 35u);
}

TEST(NestedWalkerCounts, FourGuestFiveHostIs29) {
  NestedMachine m(config(4, PageSize::k4K, 5, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // (4+1)(5+1) - 1 = 29: 4 guest levels of (5 EPT + 1) references, + 5 for the data GPA
  EXPECT_EQ(m.walk(va).refs, 29u);
}

TEST(NestedWalkerCounts, FiveGuestFourHostIs29) {
  NestedMachine m(config(5, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(5);
  m.map(va);
  // (5+1)(4+1) - 1 = 29: 5 guest levels of (4 EPT + 1), + 4 for the data GPA
  EXPECT_EQ(m.walk(va).refs, 29u);
}

TEST(NestedWalkerCounts, TwoMegGuestOnFourKHost) {
  NestedMachine m(config(4, PageSize::k2M, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // guest levels 4, 3, 2 (the PDE is the leaf): 3 * (4 + 1) = 15; data GPA: 4 -> 19
  EXPECT_EQ(m.walk(va).refs, 19u);
}

TEST(NestedWalkerCounts, FourKGuestOnTwoMegHost) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k2M));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // every EPT walk ends at the EPT PDE: 3 references; 4 guest levels * (3 + 1) + 3 = 19
  EXPECT_EQ(m.walk(va).refs, 19u);
}

TEST(NestedWalkerCounts, TwoMegBothSidesIs15) {
  NestedMachine m(config(4, PageSize::k2M, 4, PageSize::k2M));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // 3 guest levels * (3 EPT + 1) + 3 = 15 (DESIGN.md)
  EXPECT_EQ(m.walk(va).refs, 15u);
}

TEST(NestedWalkerCounts, OneGigGuestOnFourKHost) {
  NestedMachine m(config(4, PageSize::k1G, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // guest levels 4, 3 (the PDPTE is the leaf): 2 * (4 + 1) + 4 = 14
  EXPECT_EQ(m.walk(va).refs, 14u);
}

TEST(NestedWalkerCounts, FourKGuestOnOneGigHost) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k1G));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // EPT walks end at the EPT PDPTE: 2 references; 4 * (2 + 1) + 2 = 14
  EXPECT_EQ(m.walk(va).refs, 14u);
}

TEST(NestedWalkerCounts, OneGigBothSidesIs8) {
  NestedMachine m(config(4, PageSize::k1G, 4, PageSize::k1G));
  const std::uint64_t va = base_va(4);
  m.map(va);
  // 2 guest levels * (2 + 1) + 2 = 8
  EXPECT_EQ(m.walk(va).refs, 8u);
}

// Every combination of levels, leaf sizes and formats against the formula, three walks each
// (nothing is cached, so every walk costs the same).
class NestedGeometry : public ::testing::TestWithParam<
                           std::tuple<unsigned, PageSize, unsigned, PageSize, NestedFormat>> {};

TEST_P(NestedGeometry, CachesOffEveryWalkMakesTheFormulaCount) {
  const auto [n, gsize, mm, hsize, format] = GetParam();
  NestedMachine m(config(n, gsize, mm, hsize, format));
  const std::uint64_t va = base_va(n);
  const Gpa gpa = m.map(va);
  const unsigned expected = formula(n, gsize, mm, hsize);
  for (int i = 0; i < 3; ++i) {
    const NestedWalkResult r = m.walk(va, i == 1 ? AccessKind::kWrite : AccessKind::kRead);
    ASSERT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(r.refs, expected);
    EXPECT_EQ(r.guest_refs, n - leaf_level(gsize) + 1);  // one entry per guest level used
    EXPECT_EQ(r.host_refs, expected - r.guest_refs);
    EXPECT_EQ(r.gpa, gpa);
    EXPECT_EQ(r.guest_size, gsize);
    EXPECT_EQ(r.ept_size, hsize);
    // the smaller of the two sizes (splintering), at the HPA the EPT gives
    const PageSize size = gsize < hsize ? gsize : hsize;
    EXPECT_EQ(r.translation.size, size);
    EXPECT_EQ(r.translation.hpa_of(va), m.hpa_of(gpa));
  }
  EXPECT_EQ(m.walker.stats().walks.value(), 3u);
  EXPECT_EQ(m.walker.stats().refs.value(), 3u * expected);
  EXPECT_EQ(m.walker.stats().refs_guest.value() + m.walker.stats().refs_host.value(),
            3u * expected);
  EXPECT_EQ(total_saved(m.walker.stats()), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    All, NestedGeometry,
    ::testing::Combine(::testing::Values(4u, 5u),
                       ::testing::Values(PageSize::k4K, PageSize::k2M, PageSize::k1G),
                       ::testing::Values(4u, 5u),
                       ::testing::Values(PageSize::k4K, PageSize::k2M, PageSize::k1G),
                       ::testing::Values(NestedFormat::kEpt, NestedFormat::kNpt)));

TEST(NestedWalkerCells, FourPlusFourEveryCellOnce) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  const NestedWalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  // g = 4..1 locate the guest entry of that level (h = 4..1 the EPT walk of its table's GPA,
  // h = 0 the entry itself); g = 0 is the data GPA's EPT walk (h = 4..1). (0, 0) is the
  // data access, not a reference. 25 - 1 = 24 cells, one reference each.
  for (unsigned g = 0; g <= 5; ++g) {
    for (unsigned h = 0; h <= 5; ++h) {
      if (g == 0 && h == 0) {
        continue;
      }
      const bool used = g <= 4 && h <= 4;
      EXPECT_EQ(cell_count(m, g, h), used ? 1u : 0u) << "g" << g << "h" << h;
      EXPECT_EQ(r.cell(g, h), used) << "g" << g << "h" << h;
    }
  }
}

TEST(NestedWalkerCells, StatisticNamesAreStableAcrossLevels) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::vector<stats::Row> rows = stats::collect(m.stats_root);
  unsigned cells = 0;
  bool refs = false, guest = false, host = false;
  for (const stats::Row& row : rows) {
    cells += row.path.rfind("walker.cells.g", 0) == 0 ? 1 : 0;
    refs |= row.path == "walker.refs";
    guest |= row.path == "walker.refs.guest";
    host |= row.path == "walker.refs.host";
  }
  EXPECT_EQ(cells, 35u);  // 6 x 6 cells for up to 5+5, without (0, 0)
  EXPECT_TRUE(refs && guest && host);
}

TEST(NestedWalkerCells, HugeLeavesLeaveTheirCellsEmpty) {
  NestedMachine m(config(4, PageSize::k2M, 4, PageSize::k2M));
  const std::uint64_t va = base_va(4);
  m.map(va);
  const NestedWalkResult r = m.walk(va);
  // No guest level-1 entry, and no EPT level-1 read for any GPA.
  for (unsigned h = 0; h <= 4; ++h) {
    EXPECT_FALSE(r.cell(1, h));
  }
  for (unsigned g = 0; g <= 4; ++g) {
    EXPECT_FALSE(r.cell(g, 1));
  }
  EXPECT_TRUE(r.cell(2, 0));
  EXPECT_TRUE(r.cell(0, 2));
}

// --- Outcomes -------------------------------------------------------------------------------

TEST(NestedWalkerOutcomes, GuestPageFaultAtTheRoot) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const NestedWalkResult r = m.walk(base_va(4));
  EXPECT_EQ(r.outcome, Outcome::kGuestPageFault);
  EXPECT_EQ(r.fault_level, 4u);
  // the root table's EPT walk (4) and its not-present PML4E (1)
  EXPECT_EQ(r.refs, 5u);
  EXPECT_EQ(m.walker.stats().guest_faults.value(), 1u);
}

TEST(NestedWalkerOutcomes, GuestPageFaultAtThePte) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  const NestedWalkResult r = m.walk(va + 4 * kKiB);  // same PT, next (unmapped) entry
  EXPECT_EQ(r.outcome, Outcome::kGuestPageFault);
  EXPECT_EQ(r.fault_level, 1u);
  // 4 guest levels * (4 + 1); no data GPA
  EXPECT_EQ(r.refs, 20u);
}

TEST(NestedWalkerOutcomes, EptViolationOnAGuestTablePage) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  m.map(va);
  const Gpa pd = m.guest_table_gpa(va, 2);
  ASSERT_EQ(m.ept.unmap(pd, 4 * kKiB), 1u);  // the host took the guest PD's page away
  const NestedWalkResult r = m.walk(va);
  EXPECT_EQ(r.outcome, Outcome::kEptViolation);
  EXPECT_TRUE(r.violation_on_guest_table);
  EXPECT_EQ(r.violation_guest_level, 2u);
  EXPECT_EQ(r.gpa, Gpa(pd.value() | pte::entry_offset(va, 2)));  // the PDE's GPA
  EXPECT_EQ(r.fault_level, 1u);  // the EPT PTE was zapped; the tables above stay
  // levels 4 and 3: 2 * (4 + 1); then the PD's EPT walk reads 4 entries, the last absent
  EXPECT_EQ(r.refs, 14u);
  EXPECT_EQ(m.walker.stats().ept_violations.value(), 1u);
}

TEST(NestedWalkerOutcomes, EptViolationOnTheDataPage) {
  NestedMachine m(config(4, PageSize::k4K, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va, /*back_data=*/false);
  const NestedWalkResult r = m.walk(va);
  EXPECT_EQ(r.outcome, Outcome::kEptViolation);
  EXPECT_FALSE(r.violation_on_guest_table);
  EXPECT_EQ(r.violation_guest_level, 0u);
  EXPECT_EQ(r.gpa, gpa);
  // The data GPA is near the top of the 8 GiB guest: EPT PML4 index 0 is shared with the
  // guest tables at 1 MiB, PDPT index 7 was never populated: the walk stops at level 3.
  EXPECT_EQ(r.fault_level, 3u);
  // 4 guest levels * (4 + 1) + the data GPA's EPT reads at levels 4 and 3
  EXPECT_EQ(r.refs, 22u);
  // The hypervisor installs the leaf; the walk then completes with the full count.
  m.back(gpa);
  EXPECT_EQ(m.walk(va).refs, 24u);
}

// --- Accessed and dirty flags ---------------------------------------------------------------

class NestedAd : public ::testing::TestWithParam<std::tuple<NestedFormat, bool>> {};

TEST_P(NestedAd, GuestAndEptFlags) {
  const auto [format, ad] = GetParam();
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K, format);
  c.ad_bits = ad;
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va);

  NestedWalkResult r = m.walk(va, AccessKind::kRead);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  for (unsigned level = 4; level >= 1; --level) {
    const std::uint64_t e = m.guest_entry(va, level);
    EXPECT_NE(e & pte::kAccessed, 0u) << level;  // every guest entry used gets A
    EXPECT_EQ(e & pte::kDirty, 0u) << level;     // a read sets no D
    // The guest table's page, in the EPT: guest paging-structure accesses are writes for
    // EPT A/D purposes, so A and D, with A/D on; nothing with A/D off.
    const auto table = m.ept.lookup_debug(m.guest_table_gpa(va, level));
    EXPECT_EQ(table->accessed, ad) << level;
    EXPECT_EQ(table->dirty, ad) << level;
  }
  auto data = m.ept.lookup_debug(gpa);
  EXPECT_EQ(data->accessed, ad);
  EXPECT_FALSE(data->dirty);
  EXPECT_FALSE(r.translation.dirty);
  // 4 guest A + (with A/D) the EPT entries: the root's PML4E, PDPTE, PDE and the 4 guest
  // tables' PTEs (all guest tables share one EPT PT at 1 MiB), the data GPA's PML4E is
  // shared, its PDPTE, PDE and PTE are new: 3 + 4 + 3 = 10.
  EXPECT_EQ(m.walker.stats().ad_updates.value(), 4u + (ad ? 10u : 0u));

  r = m.walk(va, AccessKind::kWrite);
  EXPECT_NE(m.guest_entry(va, 1) & pte::kDirty, 0u);  // the guest leaf: D on a write
  EXPECT_EQ(m.guest_entry(va, 2) & pte::kDirty, 0u);  // non-leaves never get D
  data = m.ept.lookup_debug(gpa);
  EXPECT_EQ(data->dirty, ad);  // the EPT leaf of the data GPA: D on a write
  EXPECT_TRUE(r.translation.dirty);
  // the guest PTE's D and (with A/D) the data EPT leaf's D
  EXPECT_EQ(m.walker.stats().ad_updates.value(), 4u + (ad ? 10u : 0u) + 1u + (ad ? 1u : 0u));
}

INSTANTIATE_TEST_SUITE_P(All, NestedAd,
                         ::testing::Combine(::testing::Values(NestedFormat::kEpt,
                                                              NestedFormat::kNpt),
                                            ::testing::Bool()));

// --- Splintering ----------------------------------------------------------------------------

TEST(NestedWalkerSplinter, TwoMegGuestOnFourKEptIsAFourKTranslation) {
  NestedMachine m(config(4, PageSize::k2M, 4, PageSize::k4K));
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va);
  const NestedWalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.guest_size, PageSize::k2M);
  EXPECT_EQ(r.ept_size, PageSize::k4K);
  EXPECT_EQ(r.translation.size, PageSize::k4K);
  EXPECT_EQ(r.translation.page_base, m.hpa_of(gpa).page_base(12));
  // Another 4 KiB of the same guest 2 MiB page has its own host frame (or none yet).
  const NestedWalkResult other = m.walk(va + 4 * kKiB);
  EXPECT_EQ(other.outcome, Outcome::kEptViolation);
  EXPECT_FALSE(other.violation_on_guest_table);
}

TEST(NestedWalkerSplinter, OneGigGuestOnTwoMegEptIsATwoMegTranslation) {
  NestedMachine m(config(4, PageSize::k1G, 4, PageSize::k2M));
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va);
  const NestedWalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, Outcome::kOk);
  EXPECT_EQ(r.translation.size, PageSize::k2M);
  EXPECT_EQ(r.translation.page_base, m.hpa_of(gpa).page_base(21));
}

// --- Caches ---------------------------------------------------------------------------------

struct CacheCase {
  const char* name;
  bool guest_psc, ept_psc, ntlb, pte_cache;
  unsigned second_walk_refs;  // 4+4, 4 KiB, the same address walked again
};

class NestedCaches : public ::testing::TestWithParam<CacheCase> {};

TEST_P(NestedCaches, SecondWalkSkipsWhatTheHeaderSays) {
  const CacheCase& cc = GetParam();
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K);
  c.guest = guest_pwc(cc.guest_psc);
  c.nested = nested_caches(cc.ept_psc, cc.ntlb, cc.pte_cache);
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  m.map(va);
  const NestedWalkResult first = m.walk(va);
  ASSERT_EQ(first.outcome, Outcome::kOk);
  EXPECT_LE(first.refs, 24u);
  const NestedWalkResult second = m.walk(va);
  ASSERT_EQ(second.outcome, Outcome::kOk);
  EXPECT_EQ(second.refs, cc.second_walk_refs);
  // The floor: the guest leaf and the data GPA's EPT leaf are never cached.
  EXPECT_TRUE(second.cell(1, 0));
  EXPECT_TRUE(second.cell(0, 1));
  EXPECT_GE(second.refs, 2u);
  // What every cache saved, plus what was read, is the cache-off count, walk by walk.
  EXPECT_EQ(m.walker.stats().refs.value() + total_saved(m.walker.stats()), 2u * 24u);
  EXPECT_EQ(second.translation.page_base, m.debug(va).translation.page_base);
}

INSTANTIATE_TEST_SUITE_P(
    All, NestedCaches,
    ::testing::Values(
        // guest PDE-cache hit: only the guest PTE (1) and the data GPA's EPT walk (4)
        CacheCase{"GuestPsc", true, false, false, false, 5},
        // EPT PDE-cache hits for the 4 table GPAs and the data GPA: 1 EPT read each, + 4
        // guest entries
        CacheCase{"EptPsc", false, true, false, false, 9},
        // nested-TLB hits for the 4 guest table GPAs: 4 guest entries + 4 for the data GPA
        CacheCase{"Ntlb", false, false, true, false, 8},
        // page-walk cache: every non-leaf entry (guest 4..2, EPT 4..2 of each of the 5 GPAs)
        // hits; the guest PTE and 5 EPT PTEs are read: 6
        CacheCase{"PteCache", false, false, false, true, 6},
        // guest PSC + EPT PSC: guest PTE (1) + the data GPA's EPT PTE after an EPT PDE hit
        CacheCase{"BothPscs", true, true, false, false, 2},
        // everything: the floor of 2
        CacheCase{"All", true, true, true, true, 2}),
    [](const ::testing::TestParamInfo<CacheCase>& p) { return std::string(p.param.name); });

TEST_P(NestedCaches, RandomWalksNeverBelowTheFloorAndSavingsAddUp) {
  const CacheCase& cc = GetParam();
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K);
  c.guest = guest_pwc(cc.guest_psc);
  c.nested = nested_caches(cc.ept_psc, cc.ntlb, cc.pte_cache);
  NestedMachine m(c);
  const std::uint64_t base = 0x7f00'0000'0000;
  constexpr std::uint64_t kPages = 4096;  // 16 MiB: 8 guest PTs
  for (std::uint64_t p = 0; p < kPages; ++p) {
    m.map(base + p * 4 * kKiB);
  }
  std::uint64_t x = 88172645463325252ull;
  std::uint64_t off_total = 0;
  for (int i = 0; i < 5000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // every 7th walk goes far away (other PML4/PDPT entries: guest faults)
    const std::uint64_t va =
        i % 7 == 0 ? (x & 0x7fff'ffff'f000) : base + (x % kPages) * 4 * kKiB + (x & 0xff8);
    const NestedWalkResult d = m.debug(va);
    const NestedWalkResult r = m.walk(va);
    ASSERT_EQ(r.outcome, d.outcome);
    off_total += d.refs;
    ASSERT_LE(r.refs, d.refs);
    if (r.outcome == Outcome::kOk) {
      ASSERT_GE(r.refs, 2u);  // the guest leaf and the data GPA's EPT leaf
      ASSERT_TRUE(r.cell(1, 0));
      ASSERT_TRUE(r.cell(0, 1));
      ASSERT_EQ(r.translation.page_base, d.translation.page_base);
      ASSERT_EQ(r.translation.size, d.translation.size);
    } else {
      ASSERT_GE(r.refs, 1u);  // the not-present entry
      ASSERT_EQ(r.fault_level, d.fault_level);
    }
  }
  const NestedWalkerStats& s = m.walker.stats();
  EXPECT_LT(s.refs.value(), off_total);  // the caches help
  EXPECT_EQ(s.refs.value() + total_saved(s), off_total);
  // A cache on its own is used (together, a PSC hit leaves the PWC only leaves to read).
  const int on = cc.guest_psc + cc.ept_psc + cc.ntlb + cc.pte_cache;
  if (on == 1) {
    EXPECT_EQ(s.pwc_pd.hits.value() + s.pwc_pdpt.hits.value() > 0, cc.guest_psc);
    EXPECT_EQ(s.ept_pwc_pd.hits.value() + s.ept_pwc_pdpt.hits.value() > 0, cc.ept_psc);
    EXPECT_EQ(s.ntlb.hits.value() > 0, cc.ntlb);
    EXPECT_EQ(s.pte_cache.hits.value() > 0, cc.pte_cache);
  }
}

TEST(NestedWalkerCaches, FiveLevelSavingsAddUpToo) {
  NestedConfig c = config(5, PageSize::k4K, 5, PageSize::k2M);
  c.guest = guest_pwc(true);
  c.nested = nested_caches(true, true, true);
  NestedMachine m(c);
  const std::uint64_t va = base_va(5);
  m.map(va);
  const unsigned off = formula(5, PageSize::k4K, 5, PageSize::k2M);  // 5 * 5 + 4 = 29
  // A cold walk: the caches already help inside it (the guest tables' GPAs share EPT
  // entries), never beyond the cache-off count.
  EXPECT_LE(m.walk(va).refs, off);
  const NestedWalkResult r = m.walk(va);
  EXPECT_EQ(r.refs, 2u);
  EXPECT_EQ(m.walker.stats().refs.value() + total_saved(m.walker.stats()), 2u * off);
}

TEST(NestedWalkerInvalidation, InveptInvlpgInvvpid) {
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K);
  c.guest = guest_pwc(true);
  c.nested = nested_caches(true, true, true);
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  m.map(va);
  m.walk(va);
  ASSERT_EQ(m.walk(va).refs, 2u);

  // INVLPG drops the guest PSC entries (of that VPID and PCID) and the PWC's guest entries;
  // the EPT PSCs and the nested TLB stay: guest reads 4, EPT: 4 tables from the nested TLB,
  // data GPA from the EPT PDE cache (1) -> 5.
  m.walker.invlpg(Gva(va), 0, NestedMachine::kVpid);
  EXPECT_EQ(m.walker.guest_psc(2).valid_entries(), 0u);
  EXPECT_EQ(m.walk(va).refs, 5u);

  // A different VPID's flush leaves this one's entries.
  m.walker.invvpid(NestedMachine::kVpid + 1);
  EXPECT_EQ(m.walk(va).refs, 2u);
  m.walker.invvpid(NestedMachine::kVpid);
  EXPECT_EQ(m.walk(va).refs, 5u);

  // INVEPT of another EPT root keeps this EPT's entries but the guest PSCs and PWC go.
  m.walker.invept(Hpa(m.ept.root().value() + 4 * kKiB));
  EXPECT_GT(m.walker.ept_psc(2).valid_entries(), 0u);
  EXPECT_GT(m.walker.ntlb().valid_entries(), 0u);
  // INVEPT of this root: everything derived from it: a full walk again.
  m.walker.invept(m.ept.root());
  EXPECT_EQ(m.walker.ept_psc(2).valid_entries(), 0u);
  EXPECT_EQ(m.walker.ntlb().valid_entries(), 0u);
  EXPECT_EQ(m.walker.pte_cache().valid_entries(), 0u);
  const NestedWalkResult cold = m.walk(va);
  // Cold caches; the PWC still helps inside one walk (the EPT PML4E, PDPTE and PDE shared
  // by the 4 guest tables' GPAs hit after the first), so <= 24 and the savings add up.
  EXPECT_LE(cold.refs, 24u);
  m.walker.flush_all();
  EXPECT_EQ(m.walker.guest_psc(2).valid_entries(), 0u);
  EXPECT_EQ(m.walker.pte_cache().valid_entries(), 0u);
}

TEST(NestedWalkerInvalidation, ZappedDataPageFaultsAfterInvept) {
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K);
  c.guest = guest_pwc(true);
  c.nested = nested_caches(true, true, true);
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va);
  ASSERT_EQ(m.walk(va).outcome, Outcome::kOk);
  m.ept.unmap(gpa.page_base(12), 4 * kKiB);
  m.walker.invept(m.ept.root());
  const NestedWalkResult r = m.walk(va);
  EXPECT_EQ(r.outcome, Outcome::kEptViolation);
  EXPECT_EQ(r.gpa, gpa);
  EXPECT_EQ(r.fault_level, 1u);
}

// --- for_each_cached_hpa -------------------------------------------------------------------

using Visited = std::vector<std::pair<std::string, std::uint64_t>>;

// What for_each_cached_hpa reports, sorted: (structure, HPA).
Visited visit(const NestedWalker& w) {
  Visited seen;
  w.for_each_cached_hpa(
      [&seen](Hpa frame, const char* what) { seen.emplace_back(what, frame.value()); });
  std::sort(seen.begin(), seen.end());
  return seen;
}

// The EPT tables a walk of `gpa` goes through, read from memory: [0] the root (level m),
// [k] the table at level m - k, down to the level-1 table.
std::vector<std::uint64_t> ept_tables(const NestedMachine& m, Gpa gpa) {
  std::vector<std::uint64_t> tables{m.ept.root().value()};
  for (unsigned level = m.cfg.ept_levels; level > 1; --level) {
    const std::uint64_t raw =
        m.memory.read_u64(Hpa(tables.back() | pte::entry_offset(gpa.value(), level)));
    tables.push_back(raw & ept::kAddressMask);
  }
  return tables;
}

// One 4+4 walk with every cache on, and what each cache then holds, derived from the walk
// as the header describes it. Guest tables: GPAs 1 MiB, +4 KiB, +8 KiB, +12 KiB (one
// 2 MiB region), the data page at the top of the 8 GiB guest (another GiB, same 512 GiB).
//   guest PSC: levels 4, 3, 2, each -> the guest table one level down             3
//   EPT PWC: the root table's GPA misses everywhere and fills levels 4, 3, 2; the other
//     3 tables hit the EPT PDE cache; the data GPA hits the PML4E cache and fills the
//     PDPTE and PDE caches under its own keys: PML4E 1 + PDPTE 2 + PDE 2            5
//   nTLB: the 4 guest table pages                                                  4
//   PTE cache: the non-leaf entries read from memory: guest levels 4, 3, 2 (3), EPT
//     levels 4, 3, 2 of the root's GPA and 3, 2 of the data GPA (5): 8 table frames,
//     and the 5 EPT entries' next tables                                           13
//   in all                                                                          25
TEST(NestedWalkerVisit, ForEachCachedHpaReportsEveryCachedFrame) {
  NestedConfig c = config(4, PageSize::k4K, 4, PageSize::k4K);
  c.guest = guest_pwc(true);
  c.nested = nested_caches(true, true, true);
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  const Gpa data = m.map(va);
  EXPECT_TRUE(visit(m.walker).empty());
  ASSERT_EQ(m.walk(va).outcome, Outcome::kOk);

  // guest[l]: the HPA frame of the guest table at level l; table_gpa[l] its GPA.
  std::uint64_t guest[5] = {};
  Gpa table_gpa[5];
  for (unsigned l = 1; l <= 4; ++l) {
    table_gpa[l] = m.guest_table_gpa(va, l);
    guest[l] = m.hpa_of(table_gpa[l]).value();
    ASSERT_EQ(table_gpa[l].value() >> 21, table_gpa[4].value() >> 21);  // one EPT PDE
  }
  ASSERT_NE(data.value() >> 30, table_gpa[4].value() >> 30);  // another EPT PDPTE
  ASSERT_EQ(data.value() >> 39, table_gpa[4].value() >> 39);  // the same EPT PML4E
  const std::vector<std::uint64_t> e = ept_tables(m, table_gpa[4]);
  const std::vector<std::uint64_t> d = ept_tables(m, data);
  ASSERT_EQ(d[1], e[1]);  // the shared EPT PDPT

  const Visited guest_psc = {
      {"guest PSC PML4E", guest[3]}, {"guest PSC PDPTE", guest[2]}, {"guest PSC PDE", guest[1]}};
  const Visited guest_pte_cache = {
      {"PTE cache", guest[4]}, {"PTE cache", guest[3]}, {"PTE cache", guest[2]}};
  const Visited ept_pwc = {{"EPT PWC PML4E", e[1]},
                           {"EPT PWC PDPTE", e[2]},
                           {"EPT PWC PDPTE", d[2]},
                           {"EPT PWC PDE", e[3]},
                           {"EPT PWC PDE", d[3]}};
  const Visited ntlb = {
      {"nTLB", guest[4]}, {"nTLB", guest[3]}, {"nTLB", guest[2]}, {"nTLB", guest[1]}};
  const Visited ept_pte_cache = {
      {"PTE cache", e[0]}, {"PTE cache next EPT table", e[1]},  // root's GPA, level 4
      {"PTE cache", e[1]}, {"PTE cache next EPT table", e[2]},  // level 3
      {"PTE cache", e[2]}, {"PTE cache next EPT table", e[3]},  // level 2
      {"PTE cache", d[1]}, {"PTE cache next EPT table", d[2]},  // data GPA, level 3
      {"PTE cache", d[2]}, {"PTE cache next EPT table", d[3]},  // level 2
  };
  const auto all_of = [](std::initializer_list<const Visited*> parts) {
    Visited v;
    for (const Visited* p : parts) {
      v.insert(v.end(), p->begin(), p->end());
    }
    std::sort(v.begin(), v.end());
    return v;
  };

  const Visited after_walk = visit(m.walker);
  EXPECT_EQ(after_walk.size(), 25u);  // 3 + 5 + 4 + 13, above
  EXPECT_EQ(after_walk, all_of({&guest_psc, &guest_pte_cache, &ept_pwc, &ntlb, &ept_pte_cache}));
  // No side effects: the same answer again, no walk or cache lookup counted.
  EXPECT_EQ(visit(m.walker), after_walk);
  EXPECT_EQ(m.walker.stats().walks.value(), 1u);
  EXPECT_EQ(m.walker.stats().ntlb.hits.value() + m.walker.stats().ntlb.misses.value(), 4u);

  // INVLPG: the guest PSC entries and the PTE cache's guest entries go (3 + 3): 19 left.
  m.walker.invlpg(Gva(va), 0, NestedMachine::kVpid);
  EXPECT_EQ(visit(m.walker), all_of({&ept_pwc, &ntlb, &ept_pte_cache}));
  // INVEPT of another EPT: the PTE cache goes whole, the EPT PWC and nTLB stay (5 + 4).
  m.walker.invept(Hpa(m.ept.root().value() + 4 * kKiB));
  EXPECT_EQ(visit(m.walker), all_of({&ept_pwc, &ntlb}));
  // INVEPT of this EPT: nothing refers to any host frame any more.
  m.walker.invept(m.ept.root());
  EXPECT_TRUE(visit(m.walker).empty());

  // And flush_all after a walk refilled everything.
  ASSERT_EQ(m.walk(va).outcome, Outcome::kOk);
  EXPECT_FALSE(visit(m.walker).empty());
  m.walker.flush_all();
  EXPECT_TRUE(visit(m.walker).empty());
}

// --- translate_debug ------------------------------------------------------------------------

TEST(NestedWalkerDebug, AgreesAndChangesNothing) {
  NestedConfig c = config(4, PageSize::k2M, 4, PageSize::k4K);
  c.guest = guest_pwc(true);
  c.nested = nested_caches(true, true, true);
  NestedMachine m(c);
  const std::uint64_t va = base_va(4);
  const Gpa gpa = m.map(va);

  const std::string before = stats::to_json(stats::collect(m.stats_root));
  const NestedWalkResult d = m.debug(va);
  EXPECT_EQ(stats::to_json(stats::collect(m.stats_root)), before);
  EXPECT_EQ(d.outcome, Outcome::kOk);
  EXPECT_EQ(d.refs, 19u);  // the cache-off count: 3 * (4 + 1) + 4
  EXPECT_EQ(d.cycles, Cycles(0));
  // no A/D flags set, no cache filled
  EXPECT_EQ(m.guest_entry(va, 4) & pte::kAccessed, 0u);
  EXPECT_EQ(m.guest_entry(va, 2) & pte::kAccessed, 0u);
  EXPECT_FALSE(m.ept.lookup_debug(gpa)->accessed);
  EXPECT_FALSE(m.ept.lookup_debug(m.guest_root)->accessed);
  EXPECT_EQ(m.walker.guest_psc(3).valid_entries(), 0u);
  EXPECT_EQ(m.walker.ept_psc(2).valid_entries(), 0u);
  EXPECT_EQ(m.walker.ntlb().valid_entries(), 0u);
  EXPECT_EQ(m.walker.pte_cache().valid_entries(), 0u);

  const NestedWalkResult r = m.walk(va, AccessKind::kWrite);
  EXPECT_EQ(r.translation.page_base, d.translation.page_base);
  EXPECT_EQ(r.translation.size, d.translation.size);
  EXPECT_EQ(r.gpa, d.gpa);
  // A cold walk with caches on: what it read plus what the caches saved is the debug count.
  EXPECT_EQ(r.refs + total_saved(m.walker.stats()), d.refs);
  // translate_debug reads the dirty flags as they are now
  EXPECT_TRUE(m.debug(va).translation.dirty);
  EXPECT_FALSE(d.translation.dirty);

  const NestedWalkResult fault = m.debug(va + kGiB);
  EXPECT_EQ(fault.outcome, Outcome::kGuestPageFault);
}

// --- Construction ---------------------------------------------------------------------------

TEST(NestedWalkerParams, BadLevelsAndGeometriesThrow) {
  mem::PhysicalMemory memory(64 * kMiB);
  mem::FixedLatency timing(Cycles(1));
  EXPECT_THROW(NestedWalker(WalkerParams{}, NestedWalkerParams{}, 3, ept::EptParams{}, memory,
                            timing, nullptr),
               std::invalid_argument);
  ept::EptParams six;
  six.levels = 6;
  EXPECT_THROW(NestedWalker(WalkerParams{}, NestedWalkerParams{}, 4, six, memory, timing, nullptr),
               std::invalid_argument);
  NestedWalkerParams bad;
  bad.ntlb = WalkCacheParams{.enabled = true, .entries = 12, .ways = 4};  // 3 sets
  EXPECT_THROW(NestedWalker(WalkerParams{}, bad, 4, ept::EptParams{}, memory, timing, nullptr),
               std::invalid_argument);
}

TEST(NestedWalkerParams, SchemaKeys) {
  NestedWalkerParams p;
  config::Schema s;
  s.group("walker", p);
  EXPECT_NE(s.find("walker.ept_pwc.enabled"), nullptr);
  EXPECT_NE(s.find("walker.ept_pwc.pd.entries"), nullptr);
  EXPECT_NE(s.find("walker.ntlb.enabled"), nullptr);
  EXPECT_NE(s.find("walker.ntlb.entries"), nullptr);
  EXPECT_NE(s.find("walker.ntlb.ways"), nullptr);
  EXPECT_NE(s.find("walker.pte_cache.entries"), nullptr);
  s.set("walker.ntlb.enabled", "true", "--set");
  s.set("walker.ntlb.entries", "64", "--set");
  EXPECT_TRUE(p.ntlb.on());
  EXPECT_EQ(p.ntlb.entries, 64u);
  s.set("walker.pte_cache.entries", "24", "--set");  // 24 / 4 = 6 sets
  EXPECT_THROW(s.validate(), config::ConfigError);
}

}  // namespace
}  // namespace pagesim::walker
