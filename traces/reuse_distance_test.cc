// ReuseDistance against a brute-force LRU stack, and by hand on a short stream.
#include "traces/reuse_distance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>

#include "traces/random.h"

namespace pagesim::traces {
namespace {

constexpr std::uint64_t kCold = ReuseDistance::kCold;

TEST(ReuseDistance, ByHand) {
  ReuseDistance rd;
  // a b c a a b d c: a is cold, b cold, c cold; a again after b, c (2 distinct others);
  // a right after a (0); b after c, a (2: a counts once); d cold; c after a, b, d (3).
  const std::uint64_t a = 1, b = 2, c = 3, d = 4;
  EXPECT_EQ(rd.reference(a), kCold);
  EXPECT_EQ(rd.reference(b), kCold);
  EXPECT_EQ(rd.reference(c), kCold);
  EXPECT_EQ(rd.reference(a), 2u);
  EXPECT_EQ(rd.reference(a), 0u);
  EXPECT_EQ(rd.reference(b), 2u);
  EXPECT_EQ(rd.reference(d), kCold);
  EXPECT_EQ(rd.reference(c), 3u);
  EXPECT_EQ(rd.distinct(), 4u);
}

// The distance is the position of the key in an LRU stack (most recent first).
TEST(ReuseDistance, MatchesAnLruStackThroughRenumbering) {
  // A 4-slot table renumbers every few references; 100 keys make it grow too.
  ReuseDistance rd(4);
  std::list<std::uint64_t> stack;
  Xoshiro256ss rng(7);
  for (int i = 0; i < 20000; ++i) {
    // Skewed keys: small ones often, so both short and long distances occur.
    const std::uint64_t key = rng.next() % (1 + rng.next() % 100);
    const auto it = std::find(stack.begin(), stack.end(), key);
    std::uint64_t expected = kCold;
    if (it != stack.end()) {
      expected = static_cast<std::uint64_t>(std::distance(stack.begin(), it));
      stack.erase(it);
    }
    stack.push_front(key);
    ASSERT_EQ(rd.reference(key), expected) << "reference " << i;
  }
  EXPECT_EQ(rd.distinct(), stack.size());
}

}  // namespace
}  // namespace pagesim::traces
