#include "models/tlb/set_assoc.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace pagesim::tlb {
namespace {

TEST(SetAssoc, SetIndexIsNumberModuloSets) {
  SetAssoc g(16, 4, Replacement::kLru, 1);
  EXPECT_EQ(g.set_of(0), 0u);
  EXPECT_EQ(g.set_of(17), 1u);   // 17 mod 16
  EXPECT_EQ(g.set_of(48), 0u);   // 48 = 3 * 16
  EXPECT_EQ(g.slot(3, 2), 14u);  // set-major: 3 * 4 + 2
}

TEST(SetAssoc, RejectsImpossibleGeometry) {
  EXPECT_THROW(SetAssoc(12, 4, Replacement::kLru, 1), std::invalid_argument);  // 12 sets
  EXPECT_THROW(SetAssoc(0, 4, Replacement::kLru, 1), std::invalid_argument);
  EXPECT_THROW(SetAssoc(4, 0, Replacement::kLru, 1), std::invalid_argument);
  EXPECT_THROW(SetAssoc(4, 12, Replacement::kTreePlru, 1), std::invalid_argument);
  EXPECT_NO_THROW(SetAssoc(4, 12, Replacement::kLru, 1));  // LRU takes any associativity
}

TEST(SetAssoc, LruVictimIsLeastRecentlyTouched) {
  SetAssoc g(2, 4, Replacement::kLru, 1);
  for (std::uint32_t w = 0; w < 4; ++w) {
    g.touch(0, w);  // order of use: 0 1 2 3
  }
  EXPECT_EQ(g.victim(0), 0u);
  g.touch(0, 0);  // order: 1 2 3 0
  EXPECT_EQ(g.victim(0), 1u);
  g.touch(0, 2);  // order: 1 3 0 2
  EXPECT_EQ(g.victim(0), 1u);
  g.touch(0, 1);  // order: 3 0 2 1
  EXPECT_EQ(g.victim(0), 3u);
  g.touch(1, 3);  // another set leaves set 0 alone
  EXPECT_EQ(g.victim(0), 3u);
}

// The packed recency order (up to 16 ways) and the stamps (more) choose as a reference of
// last-touch times does: the least recently touched way, the lowest-numbered of those never
// touched. Every associativity from 1 to 20, random touches, a victim asked after each.
TEST(SetAssoc, LruVictimMatchesLastTouchReference) {
  SplitMix64 rng(7);
  for (std::uint32_t ways = 1; ways <= 20; ++ways) {
    SetAssoc g(4, ways, Replacement::kLru, 1);
    std::vector<std::vector<std::uint64_t>> last(4, std::vector<std::uint64_t>(ways, 0));
    std::uint64_t clock = 0;
    for (int step = 0; step < 2000; ++step) {
      const std::uint64_t set = rng.below(4);
      const std::uint32_t way = rng.below(ways);
      g.touch(set, way);
      last[set][way] = ++clock;
      for (std::uint64_t s = 0; s < 4; ++s) {
        std::uint32_t oldest = 0;
        for (std::uint32_t w = 1; w < ways; ++w) {
          oldest = last[s][w] < last[s][oldest] ? w : oldest;
        }
        ASSERT_EQ(g.victim(s), oldest) << ways << " ways, step " << step << ", set " << s;
      }
    }
  }
}

// Tree-PLRU over 4 ways: root node 1 chooses between {0,1} (bit 0) and {2,3} (bit 1), node 2
// between 0 and 1, node 3 between 2 and 3. A touch points each node on the way's path away
// from it. After touching 0,1,2,3: root -> {0,1} (3 was last), node 2 -> 0 (1 was last):
// victim 0. Replacing 0 (a touch of 0): root -> {2,3}, node 3 -> 2: victim 2. Touch 2:
// root -> {0,1}, node 2 -> 1 (0 touched since): victim 1. Touch 1: root -> {2,3}, node 3 -> 3:
// victim 3. The classic PLRU order 0, 2, 1, 3.
TEST(SetAssoc, TreePlruVictimSequence) {
  SetAssoc g(1, 4, Replacement::kTreePlru, 1);
  for (std::uint32_t w = 0; w < 4; ++w) {
    g.touch(0, w);
  }
  std::vector<std::uint32_t> victims;
  for (int i = 0; i < 4; ++i) {
    std::uint32_t v = g.victim(0);
    victims.push_back(v);
    g.touch(0, v);  // the fill touches the replaced way
  }
  EXPECT_EQ(victims, (std::vector<std::uint32_t>{0, 2, 1, 3}));
}

// 8 ways, three levels. Touching 0..7 in order leaves every node pointing at its lower half
// except where the last touch went: victim 0. Replacing in turn gives the bit-reversed order
// 0 4 2 6 1 5 3 7 (each replacement flips the nodes on its path, so the next victim is in
// the opposite half at the root, then the opposite quarter, ...).
TEST(SetAssoc, TreePlruEightWaysBitReversedOrder) {
  SetAssoc g(1, 8, Replacement::kTreePlru, 1);
  for (std::uint32_t w = 0; w < 8; ++w) {
    g.touch(0, w);
  }
  std::vector<std::uint32_t> victims;
  for (int i = 0; i < 8; ++i) {
    std::uint32_t v = g.victim(0);
    victims.push_back(v);
    g.touch(0, v);
  }
  EXPECT_EQ(victims, (std::vector<std::uint32_t>{0, 4, 2, 6, 1, 5, 3, 7}));
}

// A hit protects a way: with 0..3 touched, victim 0; touching 0 again moves the victim into
// the other half, to the less recent of 2 and 3 (2).
TEST(SetAssoc, TreePlruHitRedirectsVictim) {
  SetAssoc g(1, 4, Replacement::kTreePlru, 1);
  for (std::uint32_t w = 0; w < 4; ++w) {
    g.touch(0, w);
  }
  g.touch(0, 0);
  EXPECT_EQ(g.victim(0), 2u);
}

TEST(SetAssoc, RandomIsDeterministicPerSeedAndUniformEnough) {
  auto sequence = [](std::uint64_t seed) {
    SetAssoc g(1, 8, Replacement::kRandom, seed);
    std::vector<std::uint32_t> v;
    for (int i = 0; i < 64; ++i) {
      v.push_back(g.victim(0));
    }
    return v;
  };
  const auto a = sequence(7);
  EXPECT_EQ(a, sequence(7));  // same seed, same victims
  EXPECT_NE(a, sequence(8));  // another seed, another sequence (8^-64 chance of equality)
  std::set<std::uint32_t> seen(a.begin(), a.end());
  EXPECT_EQ(seen.size(), 8u);  // 64 draws over 8 ways reach each one
  EXPECT_LT(*seen.rbegin(), 8u);
}

// replace() is victim() then touch() of that way: two geometries given the same random
// touches and victim requests, one through replace(), one through the two calls, choose the
// same ways, for every policy and every associativity (LRU up to 20: the packed order and
// the stamps; tree-PLRU the powers of two).
TEST(SetAssoc, ReplaceIsVictimThenTouch) {
  for (Replacement policy : {Replacement::kLru, Replacement::kTreePlru, Replacement::kRandom}) {
    for (std::uint32_t ways = 1; ways <= 20; ++ways) {
      if (policy == Replacement::kTreePlru && (ways & (ways - 1)) != 0) {
        continue;
      }
      SetAssoc a(4, ways, policy, 3);
      SetAssoc b(4, ways, policy, 3);
      SplitMix64 rng(11);
      for (int step = 0; step < 2000; ++step) {
        const std::uint64_t set = rng.below(4);
        if (rng.below(2) == 0) {
          const std::uint32_t way = rng.below(ways);
          a.touch(set, way);
          b.touch(set, way);
          continue;
        }
        const std::uint32_t expected = b.victim(set);
        b.touch(set, expected);
        ASSERT_EQ(a.replace(set), expected) << ways << " ways, step " << step;
      }
      for (std::uint64_t set = 0; set < 4; ++set) {
        ASSERT_EQ(a.victim(set), b.victim(set)) << ways << " ways, set " << set;
      }
    }
  }
}

TEST(SplitMix64, KnownFirstOutputForSeedZero) {
  // Reference value of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
  EXPECT_EQ(SplitMix64(0).next(), 0xe220a8397b1dcdafull);
}

}  // namespace
}  // namespace pagesim::tlb
