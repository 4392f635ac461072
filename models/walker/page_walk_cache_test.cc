#include "models/walker/page_walk_cache.h"

#include <gtest/gtest.h>

#include <stdexcept>

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

}  // namespace
}  // namespace pagesim::walker
