// Tests of one TLB level. Expectations are derived from the geometry (sets = entries / ways,
// set index = VPN mod sets) and the SDM's invalidation scopes (Vol. 3A, 4.10.4.1), written
// beside each assertion.
#include "models/tlb/tlb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "models/tlb/tlb_test_util.h"

namespace pagesim::tlb {
namespace {

using namespace testing;  // k4K, k2M, k1G, translation(), page()

// The frame 0x100000 + vpn * 4 KiB for the 4 KiB page with this VPN.
Translation frame_of(std::uint64_t vpn) { return translation(0x100000 + vpn * k4K); }

void insert_page(Tlb& tlb, std::uint64_t vpn, std::uint16_t pcid = 0, std::uint16_t vpid = 0) {
  ASSERT_NE(tlb.insert(page(vpn), pcid, vpid, frame_of(vpn)), nullptr);
}
bool holds(const Tlb& tlb, std::uint64_t vpn, std::uint16_t pcid = 0, std::uint16_t vpid = 0) {
  return tlb.probe(page(vpn), pcid, vpid) != nullptr;
}

// The per-size counts the lookup uses to skip empty sizes agree with a scan of the arrays.
void expect_counts_consistent(const Tlb& tlb) {
  EXPECT_EQ(
      tlb.occupancy(PageSize::k4K) + tlb.occupancy(PageSize::k2M) + tlb.occupancy(PageSize::k1G),
      tlb.occupancy());
}

// The Skylake L1 dTLB (tlb_params.h): 4 KiB 64/4, 2 MiB 32/4, 1 GiB 4/4.
TlbParams skylake_l1d() { return TlbHierarchyParams{}.l1d; }

TEST(Tlb, HitReturnsTheInsertedTranslationAndCounts) {
  stats::Group root(nullptr, "");
  Tlb tlb(TlbParams{.small = {64, 4}}, 1, &root, "tlb.l1d");
  EXPECT_EQ(tlb.lookup(page(5), 0, 0), nullptr);
  const Translation* stored = tlb.insert(page(5), 0, 0, frame_of(5));
  const Translation* hit = tlb.lookup(Gva(5 * k4K + 0x123), 0, 0);
  ASSERT_EQ(hit, stored);
  EXPECT_EQ(hit->hpa_of(5 * k4K + 0x123).value(), 0x100000 + 5 * k4K + 0x123);
  EXPECT_EQ(tlb.stats().hits.value(), 1u);
  EXPECT_EQ(tlb.stats().hits_4k.value(), 1u);
  EXPECT_EQ(tlb.stats().misses.value(), 1u);
  EXPECT_EQ(tlb.stats().fills.value(), 1u);

  // The group is "tlb.l1d" under the root: the registry sees tlb.l1d.hits.
  bool found = false;
  for (const stats::Row& row : stats::collect(root)) {
    if (row.path == "tlb.l1d.hits") {
      found = true;
      EXPECT_EQ(std::get<std::uint64_t>(row.value), 1u);
    }
  }
  EXPECT_TRUE(found);
}

// One set of 4 ways (4 entries / 4 ways = 1 set). Fill order 0 1 2 3; touching 0 makes the
// use order 1 2 3 0, so inserting a fifth page evicts 1, the least recently used.
TEST(Tlb, LruEvictsTheLeastRecentlyUsed) {
  Tlb tlb(TlbParams{.small = {4, 4}}, 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 4; ++vpn) {
    insert_page(tlb, vpn);
  }
  ASSERT_NE(tlb.lookup(page(0), 0, 0), nullptr);
  insert_page(tlb, 4);
  EXPECT_FALSE(holds(tlb, 1));
  for (std::uint64_t vpn : {0, 2, 3, 4}) {
    EXPECT_TRUE(holds(tlb, vpn)) << vpn;
  }
  EXPECT_EQ(tlb.stats().evictions.value(), 1u);
  // Use order now 2 3 0 4: the next victim is 2.
  insert_page(tlb, 5);
  EXPECT_FALSE(holds(tlb, 2));
}

// 64 entries / 4 ways = 16 sets: VPNs 0, 16, 32, 48 all index set 0. Four fit (4 ways);
// the fifth, 64, evicts the least recently used of them (0). Set 1 (VPN 1) is untouched.
TEST(Tlb, PagesSetsApartConflict) {
  Tlb tlb(TlbParams{.small = {64, 4}}, 1, nullptr, "t");
  for (std::uint64_t vpn : {0, 16, 32, 48, 1}) {
    insert_page(tlb, vpn);
  }
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
  insert_page(tlb, 64);  // 64 mod 16 = 0: ways + 1 pages in set 0
  EXPECT_EQ(tlb.stats().evictions.value(), 1u);
  EXPECT_FALSE(holds(tlb, 0));
  for (std::uint64_t vpn : {16, 32, 48, 64, 1}) {
    EXPECT_TRUE(holds(tlb, vpn)) << vpn;
  }
}

// 64 consecutive pages spread 4 per set over 16 sets: exactly the capacity, no eviction.
TEST(Tlb, ConsecutivePagesFillEverySet) {
  Tlb tlb(TlbParams{.small = {64, 4}}, 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 64; ++vpn) {
    insert_page(tlb, vpn);
  }
  EXPECT_EQ(tlb.occupancy(), 64u);
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
}

TEST(Tlb, InsertOfAPresentKeyUpdatesInPlace) {
  Tlb tlb(TlbParams{.small = {4, 4}}, 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 4; ++vpn) {
    insert_page(tlb, vpn);
  }
  tlb.insert(page(2), 0, 0, translation(0xabc000));  // same (vpn, pcid, vpid): no duplicate
  EXPECT_EQ(tlb.occupancy(), 4u);
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
  for (std::uint64_t vpn = 0; vpn < 4; ++vpn) {
    EXPECT_TRUE(holds(tlb, vpn)) << vpn;
  }
  EXPECT_EQ(tlb.probe(page(2), 0, 0)->page_base.value(), 0xabc000u);
  // Re-inserting an entry from the TLB itself (aliasing argument) is fine too.
  const Translation* e = tlb.probe(page(3), 0, 0);
  EXPECT_EQ(tlb.insert(page(3), 0, 0, *e), e);
  EXPECT_EQ(e->page_base.value(), 0x100000 + 3 * k4K);
}

TEST(Tlb, ProbeHasNoSideEffects) {
  Tlb tlb(TlbParams{.small = {4, 4}}, 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 4; ++vpn) {
    insert_page(tlb, vpn);
  }
  EXPECT_NE(tlb.probe(page(0), 0, 0), nullptr);  // not a touch: 0 stays least recent
  EXPECT_EQ(tlb.probe(page(9), 0, 0), nullptr);
  EXPECT_EQ(tlb.stats().hits.value() + tlb.stats().misses.value(), 0u);
  insert_page(tlb, 4);
  EXPECT_FALSE(holds(tlb, 0));
}

// Tree-PLRU, one set of 4 ways: the fills take the invalid ways 0 1 2 3 in order, then the
// victims follow the tree (set_assoc_test.cc derives it): ways 0, 2, 1, 3, which hold pages
// 0, 2, 1, 3.
TEST(Tlb, TreePlruVictimSequence) {
  Tlb tlb(TlbParams{.small = {4, 4}, .replacement = Replacement::kTreePlru}, 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 4; ++vpn) {
    insert_page(tlb, vpn);
  }
  std::vector<std::uint64_t> evicted;
  for (std::uint64_t vpn = 4; vpn < 8; ++vpn) {
    insert_page(tlb, vpn);
    for (std::uint64_t old = 0; old < 4; ++old) {
      if (!holds(tlb, old) && std::find(evicted.begin(), evicted.end(), old) == evicted.end()) {
        evicted.push_back(old);
      }
    }
  }
  EXPECT_EQ(evicted, (std::vector<std::uint64_t>{0, 2, 1, 3}));
}

// Random replacement: the page evicted by each of 20 inserts into a full 4-way set, for a
// given seed. Same seed: same sequence; another seed: another (equal by chance with
// probability 4^-20).
std::vector<std::uint64_t> random_victims(std::uint64_t seed) {
  Tlb tlb(TlbParams{.small = {4, 4}, .replacement = Replacement::kRandom}, seed, nullptr, "t");
  std::vector<std::uint64_t> victims;
  for (std::uint64_t vpn = 0; vpn < 24; ++vpn) {
    std::vector<std::uint64_t> before;
    for (std::uint64_t old = 0; old < vpn; ++old) {
      if (holds(tlb, old)) {
        before.push_back(old);
      }
    }
    tlb.insert(page(vpn), 0, 0, frame_of(vpn));
    for (std::uint64_t old : before) {
      if (!holds(tlb, old)) {
        victims.push_back(old);
      }
    }
  }
  EXPECT_EQ(tlb.occupancy(), 4u);
  EXPECT_EQ(tlb.stats().evictions.value(), 20u);  // 24 pages into 4 ways
  return victims;
}

TEST(Tlb, RandomReplacementIsDeterministicPerSeed) {
  const auto a = random_victims(5);
  ASSERT_EQ(a.size(), 20u);
  EXPECT_EQ(a, random_victims(5));
  EXPECT_NE(a, random_victims(6));
}

// Split arrays (Skylake L1 dTLB): a 2 MiB page goes to the 2 MiB array and translates every
// gva of its 2 MiB, not the next 2 MiB.
TEST(Tlb, TwoMegabytePageInItsOwnArray) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  const std::uint64_t gva_base = 513 * k2M;  // 0x40200000
  tlb.insert(Gva(gva_base + 0x5000), 0, 0, translation(0x80000000, PageSize::k2M));
  const Translation* e = tlb.lookup(Gva(gva_base + 0x12345), 0, 0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, PageSize::k2M);
  EXPECT_EQ(e->hpa_of(gva_base + 0x12345).value(), 0x80012345u);
  EXPECT_EQ(tlb.lookup(Gva(gva_base + k2M), 0, 0), nullptr);
  EXPECT_EQ(tlb.stats().fills_2m.value(), 1u);
  EXPECT_EQ(tlb.stats().hits_2m.value(), 1u);
  EXPECT_EQ(tlb.stats().splinters.value(), 0u);
}

TEST(Tlb, OneGigabytePageInItsOwnArray) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  tlb.insert(Gva(2 * k1G), 0, 0, translation(5 * k1G, PageSize::k1G));
  const Translation* e = tlb.lookup(Gva(3 * k1G - 1), 0, 0);  // last byte of the page
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, PageSize::k1G);
  EXPECT_EQ(e->hpa_of(3 * k1G - 1).value(), 6 * k1G - 1);
  EXPECT_EQ(tlb.lookup(Gva(3 * k1G), 0, 0), nullptr);
  EXPECT_EQ(tlb.stats().hits_1g.value(), 1u);
}

// shared_2m (the Skylake STLB): 2 MiB pages live in the 4 KiB array, indexed by the 2 MiB
// VPN. With 64 entries / 4 ways = 16 sets: 4 KiB VPNs 0, 16, 32, 48 fill set 0. The 2 MiB
// page at 2 MiB-VPN 17 (gva 0x2200000, whose 4 KiB VPN 0x2200 would index set 0) indexes
// set 17 mod 16 = 1: no eviction. Then 4 KiB VPNs 1, 17, 33 and the 2 MiB entry fill set 1,
// and VPN 49 evicts the least recently used of them, the 2 MiB entry.
TEST(Tlb, Shared2mLivesInTheSmallArrayIndexedByTheLargeVpn) {
  Tlb tlb(TlbParams{.small = {64, 4}, .shared_2m = true}, 1, nullptr, "t");
  for (std::uint64_t vpn : {0, 16, 32, 48}) {
    insert_page(tlb, vpn);
  }
  const Gva huge(17 * k2M);
  tlb.insert(huge, 0, 0, translation(0x40000000, PageSize::k2M));
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
  EXPECT_EQ(tlb.stats().fills_2m.value(), 1u);
  EXPECT_EQ(tlb.stats().splinters.value(), 0u);
  const Translation* e = tlb.lookup(Gva(17 * k2M + 0x1fffff), 0, 0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, PageSize::k2M);
  EXPECT_EQ(e->hpa_of(17 * k2M + 0x1fffff).value(), 0x401fffffu);
  EXPECT_EQ(tlb.occupancy(), 5u);  // one array holds both sizes

  for (std::uint64_t vpn : {1, 17, 33}) {
    insert_page(tlb, vpn);
  }
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
  insert_page(tlb, 49);
  EXPECT_EQ(tlb.stats().evictions.value(), 1u);
  EXPECT_EQ(tlb.probe(huge, 0, 0), nullptr);
  EXPECT_EQ(tlb.occupancy(PageSize::k2M), 0u);  // the 4 KiB page took the 2 MiB one's way
  EXPECT_EQ(tlb.occupancy(PageSize::k4K), 8u);
  expect_counts_consistent(tlb);
}

TEST(Tlb, SkylakeStlbHoldsAllThreeSizes) {
  Tlb tlb(TlbHierarchyParams{}.l2, 1, nullptr, "t");
  tlb.insert(page(3), 0, 0, frame_of(3));
  tlb.insert(Gva(4 * k2M), 0, 0, translation(8 * k2M, PageSize::k2M));
  tlb.insert(Gva(4 * k1G), 0, 0, translation(8 * k1G, PageSize::k1G));
  EXPECT_EQ(tlb.lookup(page(3), 0, 0)->size, PageSize::k4K);
  EXPECT_EQ(tlb.lookup(Gva(4 * k2M + 7), 0, 0)->size, PageSize::k2M);
  EXPECT_EQ(tlb.lookup(Gva(4 * k1G + 7), 0, 0)->size, PageSize::k1G);
  EXPECT_EQ(tlb.stats().splinters.value(), 0u);
}

// The Skylake L1 iTLB has no 1 GiB array: a 1 GiB page is stored as the 2 MiB piece that
// covers the inserting gva. gva offset 0x0ab12345 in the page lies in the 2 MiB piece at
// offset 0x0aa00000 (0x0ab12345 rounded down to 2 MiB), so the entry maps
// gva 0x4aa00000.. to hpa 0x10aa00000.. . Another piece of the same 1 GiB page misses.
TEST(Tlb, OneGigabytePageSplintersIntoTwoMegabyteEntry) {
  Tlb tlb(TlbHierarchyParams{}.l1i, 1, nullptr, "t");
  const std::uint64_t gva = k1G + 0x0ab12345;
  const Translation* e = tlb.insert(Gva(gva), 0, 0, translation(4 * k1G, PageSize::k1G));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, PageSize::k2M);
  EXPECT_EQ(e->page_base.value(), 4 * k1G + 0x0aa00000);
  EXPECT_EQ(tlb.lookup(Gva(gva), 0, 0)->hpa_of(gva).value(), 4 * k1G + 0x0ab12345);
  EXPECT_EQ(tlb.lookup(Gva(k1G), 0, 0), nullptr);
  EXPECT_EQ(tlb.stats().splinters.value(), 1u);
  EXPECT_EQ(tlb.stats().fills_2m.value(), 1u);
}

// No 2 MiB array (and no shared_2m): a 2 MiB page becomes the 4 KiB entry covering gva.
TEST(Tlb, TwoMegabytePageSplintersIntoFourKilobyteEntry) {
  Tlb tlb(TlbParams{.small = {64, 4}}, 1, nullptr, "t");
  const Translation* e =
      tlb.insert(Gva(k2M + 0x3456), 0, 0, translation(0x40000000, PageSize::k2M));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->size, PageSize::k4K);
  EXPECT_EQ(e->page_base.value(), 0x40003000u);  // offset 0x3456 rounded down to 4 KiB
  EXPECT_NE(tlb.lookup(Gva(k2M + 0x3fff), 0, 0), nullptr);
  EXPECT_EQ(tlb.lookup(Gva(k2M + 0x4000), 0, 0), nullptr);
}

// A level with only a 1 GiB array cannot hold a 4 KiB page: nothing is stored.
TEST(Tlb, TranslationWithNoArrayIsDropped) {
  Tlb tlb(TlbParams{.small = {0, 1}, .huge_1g = {4, 4}}, 1, nullptr, "t");
  EXPECT_EQ(tlb.insert(page(1), 0, 0, frame_of(1)), nullptr);
  EXPECT_EQ(tlb.stats().fills_dropped.value(), 1u);
  EXPECT_EQ(tlb.occupancy(), 0u);
  EXPECT_EQ(tlb.lookup(page(1), 0, 0), nullptr);
}

// Tags are (vpn, pcid, vpid): a lookup matches only its own PCID and VPID (no global pages),
// and the same gva can be cached in several contexts at once.
TEST(Tlb, PcidAndVpidIsolate) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  tlb.insert(page(7), 1, 0, translation(0xa000));
  EXPECT_EQ(tlb.lookup(page(7), 2, 0), nullptr);  // another PCID
  EXPECT_EQ(tlb.lookup(page(7), 1, 1), nullptr);  // same PCID, another VPID
  tlb.insert(page(7), 2, 0, translation(0xb000));
  tlb.insert(page(7), 1, 1, translation(0xc000));
  EXPECT_EQ(tlb.lookup(page(7), 1, 0)->page_base.value(), 0xa000u);
  EXPECT_EQ(tlb.lookup(page(7), 2, 0)->page_base.value(), 0xb000u);
  EXPECT_EQ(tlb.lookup(page(7), 1, 1)->page_base.value(), 0xc000u);
  EXPECT_EQ(tlb.occupancy(), 3u);
  // PCIDs are 12 bits (CR3[11:0]): higher bits are not part of the tag.
  EXPECT_EQ(tlb.lookup(page(7), 0x1001, 0)->page_base.value(), 0xa000u);
}

// INVPCID single-context: only (pcid 1, vpid 0) goes, in every array.
TEST(Tlb, InvalidatePcidRemovesOnlyThatContext) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  insert_page(tlb, 1, 1, 0);
  insert_page(tlb, 2, 1, 0);
  tlb.insert(Gva(3 * k2M), 1, 0, translation(0, PageSize::k2M));
  insert_page(tlb, 1, 2, 0);
  insert_page(tlb, 1, 1, 1);
  tlb.invalidate_pcid(1, 0);
  EXPECT_EQ(tlb.stats().invalidations.value(), 3u);
  EXPECT_FALSE(holds(tlb, 1, 1, 0));
  EXPECT_FALSE(holds(tlb, 2, 1, 0));
  EXPECT_EQ(tlb.probe(Gva(3 * k2M), 1, 0), nullptr);
  EXPECT_TRUE(holds(tlb, 1, 2, 0));
  EXPECT_TRUE(holds(tlb, 1, 1, 1));
}

// INVLPG of an address inside a 2 MiB entry removes it, and every other entry of that
// context that translates the address (a 4 KiB entry of the same gva, a 1 GiB entry
// covering it): 3 invalidations. Other contexts and other pages stay.
TEST(Tlb, InvalidatePageRemovesEveryEntryTranslatingTheAddress) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  const std::uint64_t gva = k1G + 5 * k2M + 0x1234;
  tlb.insert(Gva(gva), 1, 0, translation(0x200000, PageSize::k2M));
  tlb.insert(Gva(gva), 1, 0, translation(0x5000));
  tlb.insert(Gva(gva), 1, 0, translation(k1G, PageSize::k1G));
  tlb.insert(Gva(gva), 2, 0, translation(0x200000, PageSize::k2M));        // another PCID
  tlb.insert(Gva(gva + k2M), 1, 0, translation(0x400000, PageSize::k2M));  // next 2 MiB
  tlb.invalidate_page(Gva(gva - 0x1000), 1, 0);  // same 2 MiB and 1 GiB pages, other 4 KiB
  EXPECT_EQ(tlb.stats().invalidations.value(), 2u);
  EXPECT_EQ(tlb.probe(Gva(gva), 1, 0)->size, PageSize::k4K);  // the 4 KiB entry survived
  tlb.invalidate_page(Gva(gva), 1, 0);
  EXPECT_EQ(tlb.stats().invalidations.value(), 3u);
  EXPECT_EQ(tlb.probe(Gva(gva), 1, 0), nullptr);
  EXPECT_NE(tlb.probe(Gva(gva), 2, 0), nullptr);
  EXPECT_NE(tlb.probe(Gva(gva + k2M), 1, 0), nullptr);
  expect_counts_consistent(tlb);
}

// Entries of two sizes that translate one gva (the page size changed without an INVLPG;
// SDM 4.10.2.3 lets a reference use any of them): the lookup takes the first in probe
// order, 4 KiB before 2 MiB before 1 GiB, deterministically.
TEST(Tlb, OverlappingSizesResolveInProbeOrder) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  tlb.insert(Gva(k2M), 0, 0, translation(0x40000000, PageSize::k2M));
  tlb.insert(Gva(k2M + 0x3000), 0, 0, translation(0x7000));
  EXPECT_EQ(tlb.lookup(Gva(k2M + 0x3000), 0, 0)->size, PageSize::k4K);
  EXPECT_EQ(tlb.lookup(Gva(k2M + 0x4000), 0, 0)->size, PageSize::k2M);
}

// INVLPG of an address inside a 2 MiB page shared with 4 KiB pages (shared_2m).
TEST(Tlb, InvalidatePageInSharedArray) {
  Tlb tlb(TlbHierarchyParams{}.l2, 1, nullptr, "t");
  tlb.insert(Gva(9 * k2M), 0, 0, translation(0, PageSize::k2M));
  tlb.invalidate_page(Gva(9 * k2M + 0x1ff000), 0, 0);
  EXPECT_EQ(tlb.probe(Gva(9 * k2M), 0, 0), nullptr);
  EXPECT_EQ(tlb.stats().invalidations.value(), 1u);
}

// INVVPID individual-address: the address in every PCID of the VPID, not other VPIDs.
TEST(Tlb, InvalidatePageVpidCoversEveryPcid) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  insert_page(tlb, 4, 1, 3);
  insert_page(tlb, 4, 2, 3);
  insert_page(tlb, 4, 1, 4);
  insert_page(tlb, 5, 1, 3);
  tlb.invalidate_page_vpid(page(4), 3);
  EXPECT_EQ(tlb.stats().invalidations.value(), 2u);
  EXPECT_FALSE(holds(tlb, 4, 1, 3));
  EXPECT_FALSE(holds(tlb, 4, 2, 3));
  EXPECT_TRUE(holds(tlb, 4, 1, 4));
  EXPECT_TRUE(holds(tlb, 5, 1, 3));
}

// INVVPID single-context: every entry of the VPID, whatever its PCID and size.
TEST(Tlb, InvalidateVpid) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  insert_page(tlb, 1, 1, 3);
  insert_page(tlb, 2, 2, 3);
  tlb.insert(Gva(k1G), 0, 3, translation(0, PageSize::k1G));
  insert_page(tlb, 1, 1, 4);
  tlb.invalidate_vpid(3);
  EXPECT_EQ(tlb.stats().invalidations.value(), 3u);
  EXPECT_EQ(tlb.occupancy(), 1u);
  EXPECT_TRUE(holds(tlb, 1, 1, 4));
}

TEST(Tlb, InvalidateAllEmptiesEveryArray) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  for (std::uint64_t vpn = 0; vpn < 10; ++vpn) {
    insert_page(tlb, vpn, static_cast<std::uint16_t>(vpn % 3), 0);
  }
  tlb.insert(Gva(k2M), 0, 0, translation(0, PageSize::k2M));
  tlb.insert(Gva(k1G), 0, 0, translation(0, PageSize::k1G));
  tlb.invalidate_all();
  EXPECT_EQ(tlb.occupancy(), 0u);
  expect_counts_consistent(tlb);
  EXPECT_EQ(tlb.stats().invalidations.value(), 12u);
  EXPECT_EQ(tlb.lookup(page(0), 0, 0), nullptr);
  // Invalid ways are refilled before any victim is chosen: 64 fills, no eviction.
  for (std::uint64_t vpn = 0; vpn < 64; ++vpn) {
    insert_page(tlb, vpn);
  }
  EXPECT_EQ(tlb.stats().evictions.value(), 0u);
}

// Mixed sizes, contexts and invalidations on the Skylake STLB (shared 4 KiB/2 MiB array):
// every insert is found at once, a lookup agrees with a probe, and the per-size counts stay
// equal to a scan of the arrays.
TEST(Tlb, MixedStressKeepsCountsConsistent) {
  Tlb tlb(TlbHierarchyParams{}.l2, 1, nullptr, "t");
  std::uint64_t x = 99;
  auto next = [&x] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 24;
  };
  for (int i = 0; i < 20000; ++i) {
    // Each GiB of gva has one page size, as consistent paging structures would give; an
    // address translated by entries of two sizes is the lookup-order case tested above.
    const std::uint64_t gib = next() % 8;
    const auto size = static_cast<PageSize>(gib % 3);
    const Gva gva(gib * k1G + (next() % 512) * k2M + (next() % 512) * k4K);
    const auto pcid = static_cast<std::uint16_t>(next() % 3);
    const auto vpid = static_cast<std::uint16_t>(next() % 2);
    switch (next() % 16) {
      case 0:
        tlb.invalidate_page(gva, pcid, vpid);
        EXPECT_EQ(tlb.probe(gva, pcid, vpid), nullptr);
        break;
      case 1:
        tlb.invalidate_page_vpid(gva, vpid);
        break;
      case 2:
        if (next() % 8 == 0) {
          tlb.invalidate_pcid(pcid, vpid);
        }
        break;
      case 3:
        if (next() % 32 == 0) {
          tlb.invalidate_vpid(vpid);
        }
        break;
      default: {
        const std::uint64_t base = (next() % 64) << page_shift(size);
        const Translation* e = tlb.insert(gva, pcid, vpid, translation(base, size));
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(tlb.probe(gva, pcid, vpid), e);
        EXPECT_EQ(tlb.lookup(gva, pcid, vpid), e);
        EXPECT_EQ(e->hpa_of(gva.value()).value(), base + gva.page_offset(page_shift(size)));
      }
    }
    if (i % 1000 == 0) {
      expect_counts_consistent(tlb);
    }
  }
  expect_counts_consistent(tlb);
  EXPECT_GT(tlb.stats().evictions.value(), 0u);
  EXPECT_GT(tlb.stats().invalidations.value(), 0u);
}

// for_each_entry reports each valid entry of each array once, with its own tags, and has no
// side effects; what an invalidation removed is no longer reported.
TEST(Tlb, ForEachEntryReportsEveryValidEntryWithItsTags) {
  Tlb tlb(skylake_l1d(), 1, nullptr, "t");
  insert_page(tlb, 1, 1, 0);                                                      // 4 KiB array
  insert_page(tlb, 2, 2, 3);                                                      // 4 KiB array
  tlb.insert(Gva(5 * k2M + 0x123), 1, 3, translation(20 * k2M, PageSize::k2M));   // 2 MiB array
  tlb.insert(Gva(3 * k1G), 0x0fff, 0xffff, translation(2 * k1G, PageSize::k1G));  // 1 GiB array
  // Refilling (page 1, pcid 1, vpid 0) updates that entry in place: still one entry, the new
  // frame, not the old one.
  ASSERT_NE(tlb.insert(page(1), 1, 0, translation(0x900000)), nullptr);
  const std::uint64_t fills = tlb.stats().fills.value();

  // 4 entries: two 4 KiB, one 2 MiB, one 1 GiB (each size in its own array); sorted by HPA.
  EXPECT_EQ(visit_all(tlb), (std::vector<Visited>{
                                {0x100000 + 2 * k4K, PageSize::k4K, 2, 3},
                                {0x900000, PageSize::k4K, 1, 0},
                                {20 * k2M, PageSize::k2M, 1, 3},
                                {2 * k1G, PageSize::k1G, 0x0fff, 0xffff},
                            }));
  EXPECT_EQ(visit_all(tlb).size(), tlb.occupancy());
  // No side effects: no lookups counted, nothing filled.
  EXPECT_EQ(tlb.stats().hits.value() + tlb.stats().misses.value(), 0u);
  EXPECT_EQ(tlb.stats().fills.value(), fills);

  // INVVPID single-context for VPID 3 takes page 2 and the 2 MiB page: 4 - 2 = 2 left.
  tlb.invalidate_vpid(3);
  EXPECT_EQ(visit_all(tlb), (std::vector<Visited>{
                                {0x900000, PageSize::k4K, 1, 0},
                                {2 * k1G, PageSize::k1G, 0x0fff, 0xffff},
                            }));
  // INVLPG of page 1 in (pcid 1, vpid 0): 1 left.
  tlb.invalidate_page(page(1), 1, 0);
  EXPECT_EQ(visit_all(tlb), (std::vector<Visited>{{2 * k1G, PageSize::k1G, 0x0fff, 0xffff}}));
  tlb.invalidate_all();
  EXPECT_TRUE(visit_all(tlb).empty());
}

// An entry splintered for want of an array of its size is reported as stored: the piece
// covering the inserting gva, at the smaller size (SDM 4.10.2.3).
TEST(Tlb, ForEachEntryReportsTheSplinteredPiece) {
  Tlb tlb(TlbParams{.small = {16, 4}}, 1, nullptr, "t");
  // gva 3 * 2 MiB + 5 * 4 KiB + 0x10 in a 2 MiB page at HPA 40 MiB: the 4 KiB piece 5.
  tlb.insert(Gva(3 * k2M + 5 * k4K + 0x10), 0, 1, translation(20 * k2M, PageSize::k2M));
  EXPECT_EQ(visit_all(tlb), (std::vector<Visited>{{20 * k2M + 5 * k4K, PageSize::k4K, 0, 1}}));
}

TEST(Tlb, RejectsEntriesNotDivisibleByWays) {
  EXPECT_THROW(Tlb(TlbParams{.small = {10, 4}}, 1, nullptr, "t"), std::invalid_argument);
  EXPECT_THROW(Tlb(TlbParams{.small = {24, 4}}, 1, nullptr, "t"), std::invalid_argument);
}

// The same-page fast path (issue 21) skips the scan and the replacement touch of a second
// hit on the entry of the last hit; LRU must still evict what true LRU evicts. One set of 4
// ways (4 entries): fills A, B, C, D (A oldest); A hit twice, then B: the least recently
// used is C, whatever the second hit on A did.
TEST(Tlb, RepeatedHitOnOnePageKeepsTrueLru) {
  stats::Group root(nullptr, "");
  Tlb tlb(TlbParams{.small = {4, 4}}, 1, &root, "tlb.l1d");
  for (std::uint64_t vpn : {1, 2, 3, 4}) {
    insert_page(tlb, vpn);
  }
  ASSERT_NE(tlb.lookup(page(1), 0, 0), nullptr);
  ASSERT_NE(tlb.lookup(Gva(1 * k4K + 8), 0, 0), nullptr);
  ASSERT_NE(tlb.lookup(page(2), 0, 0), nullptr);
  insert_page(tlb, 5);
  EXPECT_FALSE(holds(tlb, 3));  // C, the LRU way, went
  for (std::uint64_t vpn : {1, 2, 4, 5}) {
    EXPECT_TRUE(holds(tlb, vpn)) << vpn;
  }
  EXPECT_EQ(tlb.stats().hits.value(), 3u);
  EXPECT_EQ(tlb.stats().hits_4k.value(), 3u);
}

// The fast path's entry is forgotten by an insert and by every invalidation: the same page
// then misses, or hits only what the arrays hold.
TEST(Tlb, RepeatedHitEndsWithAnInvalidationOrAContextChange) {
  stats::Group root(nullptr, "");
  Tlb tlb(TlbParams{.small = {64, 4}}, 1, &root, "tlb.l1d");
  insert_page(tlb, 7, /*pcid=*/1);
  ASSERT_NE(tlb.lookup(page(7), 1, 0), nullptr);
  EXPECT_NE(tlb.last_hit(Gva(7 * k4K + 0x10), 1, 0), nullptr);
  EXPECT_EQ(tlb.last_hit(Gva(7 * k4K), 2, 0), nullptr);  // another PCID
  EXPECT_EQ(tlb.last_hit(page(8), 1, 0), nullptr);       // another page
  EXPECT_EQ(tlb.lookup(page(7), 2, 0), nullptr);         // PCID 2 holds nothing
  tlb.repeat_last_hit(3);                                // three more hits on page 7
  EXPECT_EQ(tlb.stats().hits.value(), 4u);
  EXPECT_EQ(tlb.stats().hits_4k.value(), 4u);
  tlb.invalidate_page(page(7), 1, 0);
  EXPECT_EQ(tlb.last_hit(page(7), 1, 0), nullptr);
  EXPECT_EQ(tlb.lookup(page(7), 1, 0), nullptr);
  insert_page(tlb, 7, 1);
  ASSERT_NE(tlb.lookup(page(7), 1, 0), nullptr);
  insert_page(tlb, 9, 1);  // any insert forgets it
  EXPECT_EQ(tlb.last_hit(page(7), 1, 0), nullptr);
}

}  // namespace
}  // namespace pagesim::tlb
