#include "models/walker/page_walk_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace pagesim::walker {
namespace {

TEST(WalkCache, OffWhenZeroEntries) {
  WalkCache c(0, 4, "test");
  EXPECT_FALSE(c.enabled());
  c.fill(1, 0, 42, 0, 0);
  EXPECT_EQ(c.lookup(1, 0), nullptr);
  EXPECT_EQ(c.valid_entries(), 0u);
}

TEST(WalkCache, BadGeometryThrows) {
  EXPECT_THROW(WalkCache(12, 4, "test"), std::invalid_argument);  // 3 sets
  EXPECT_THROW(WalkCache(8, 0, "test"), std::invalid_argument);
  EXPECT_THROW(WalkCache(8, 3, "test"), std::invalid_argument);
  EXPECT_NO_THROW(WalkCache(8, 8, "test"));  // fully associative
}

TEST(WalkCache, HitNeedsKeyAndContext) {
  WalkCache c(8, 2, "test");
  c.fill(5, 1, 500, 3, 7);
  const WalkCache::Entry* e = c.lookup(5, 1);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, 500u);
  EXPECT_EQ(e->rights, 3u);
  EXPECT_EQ(e->aux, 7u);
  EXPECT_EQ(c.lookup(5, 2), nullptr);
  EXPECT_EQ(c.lookup(6, 1), nullptr);
  // Same key, other context: a second entry, not a replacement.
  c.fill(5, 2, 600, 0, 0);
  EXPECT_EQ(c.lookup(5, 1)->value, 500u);
  EXPECT_EQ(c.lookup(5, 2)->value, 600u);
}

TEST(WalkCache, LruWithinASet) {
  WalkCache c(4, 2, "test");  // 2 sets of 2: even keys to set 0
  c.fill(0, 0, 10, 0, 0);
  c.fill(2, 0, 20, 0, 0);
  ASSERT_NE(c.lookup(0, 0), nullptr);  // 0 most recent: 2 is the victim
  c.fill(4, 0, 40, 0, 0);
  EXPECT_NE(c.lookup(0, 0), nullptr);
  EXPECT_EQ(c.lookup(2, 0), nullptr);
  EXPECT_NE(c.lookup(4, 0), nullptr);
  c.fill(1, 0, 11, 0, 0);  // set 1 untouched by the above
  EXPECT_EQ(c.valid_entries(), 3u);
}

TEST(WalkCache, Invalidation) {
  WalkCache c(16, 4, "test");
  c.fill(1, 0x10001, 1, 0, 0);
  c.fill(2, 0x10002, 2, 0, 0);
  c.fill(3, 0x20001, 3, 0, 0);
  c.invalidate_context(~std::uint64_t{0xffff}, 0x10000);  // "vpid 1", any "pcid"
  EXPECT_EQ(c.lookup(1, 0x10001), nullptr);
  EXPECT_EQ(c.lookup(2, 0x10002), nullptr);
  EXPECT_NE(c.lookup(3, 0x20001), nullptr);
  c.invalidate_key(3, 0x20001);
  EXPECT_EQ(c.valid_entries(), 0u);
  c.fill(4, 0, 4, 0, 0);
  c.invalidate_all();
  EXPECT_EQ(c.valid_entries(), 0u);
}

// for_each_entry reports each valid entry's (key, context, value) as filled, without the
// valid bit, and nothing an eviction or invalidation removed.
TEST(WalkCache, ForEachEntryReportsValidEntries) {
  using Seen = std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>>;
  const auto visit = [](const WalkCache& c) {
    Seen seen;
    c.for_each_entry([&seen](std::uint64_t key, std::uint64_t context, std::uint64_t value) {
      seen.emplace_back(key, context, value);
    });
    std::sort(seen.begin(), seen.end());
    return seen;
  };
  constexpr std::uint64_t kHighKey = 0x0001'2345'6789'abcd;  // odd: set 1; bits up to 48
  WalkCache c(4, 2, "test");                                 // 2 sets of 2: even keys to set 0
  c.fill(0, 1, 10, 0, 0);
  c.fill(2, 1, 20, 0, 0);
  c.fill(1, 7, 11, 0, 0);
  c.fill(kHighKey, 7, 99, 0, 0);
  ASSERT_NE(c.lookup(0, 1), nullptr);  // 0 most recent: 2 is the victim
  c.fill(4, 1, 40, 0, 0);
  // 4 valid entries: keys 0 and 4 in set 0, 1 and kHighKey in set 1.
  EXPECT_EQ(visit(c), (Seen{{0, 1, 10}, {1, 7, 11}, {4, 1, 40}, {kHighKey, 7, 99}}));
  c.invalidate_context(~std::uint64_t{0}, 1);
  EXPECT_EQ(visit(c), (Seen{{1, 7, 11}, {kHighKey, 7, 99}}));
  c.invalidate_key(1, 7);
  EXPECT_EQ(visit(c), (Seen{{kHighKey, 7, 99}}));
  c.invalidate_all();
  EXPECT_TRUE(visit(c).empty());
  WalkCache off(0, 4, "test");
  off.fill(1, 0, 42, 0, 0);
  EXPECT_TRUE(visit(off).empty());
}

}  // namespace
}  // namespace pagesim::walker
