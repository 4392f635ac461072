// The rmap alone: heads inline and in overflow lists, levels, ranges, errors.
#include "models/shadow/shadow_rmap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace pagesim::shadow {
namespace {

using Entry = ShadowRmap::Entry;

std::vector<Entry> collect(const ShadowRmap& r, unsigned level, std::uint64_t first,
                           std::uint64_t last) {
  std::vector<Entry> out;
  r.collect(level, first, last, out);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.page != b.page ? a.page < b.page : a.index < b.index;
  });
  return out;
}

TEST(ShadowRmap, OneLeafInlineSeveralInAListBackInlineAtOne) {
  ShadowRmap r;
  EXPECT_EQ(r.bytes(), 0u);
  r.add(1, 0x1234, {7, 3});
  EXPECT_TRUE(r.contains(1, 0x1234, {7, 3}));
  EXPECT_FALSE(r.contains(1, 0x1234, {7, 4}));
  EXPECT_FALSE(r.contains(1, 0x1235, {7, 3}));
  // One chunk of 4096 8-byte heads.
  EXPECT_EQ(r.bytes(), 4096u * 8);
  r.add(1, 0x1234, {9, 511});
  r.add(1, 0x1234, {0xffff'fffe, 0});  // the largest page number
  EXPECT_EQ(r.entries(), 3u);
  EXPECT_EQ(collect(r, 1, 0x1234, 0x1234),
            (std::vector<Entry>{{7, 3}, {9, 511}, {0xffff'fffe, 0}}));
  r.remove(1, 0x1234, {7, 3});
  r.remove(1, 0x1234, {0xffff'fffe, 0});
  EXPECT_EQ(collect(r, 1, 0x1234, 0x1234), (std::vector<Entry>{{9, 511}}));
  EXPECT_TRUE(r.contains(1, 0x1234, {9, 511}));
  r.remove(1, 0x1234, {9, 511});
  EXPECT_EQ(r.entries(), 0u);
  EXPECT_TRUE(collect(r, 1, 0, 0xffff'ffff).empty());
}

TEST(ShadowRmap, HugeLeavesAreFoundByAnyGfnTheyCover) {
  ShadowRmap r;
  r.add(2, 0x400, {1, 2});    // 2 MiB: gfns [0x400, 0x600)
  r.add(3, 0x40000, {5, 1});  // 1 GiB: gfns [0x40000, 0x80000)
  r.add(1, 0x5ff, {3, 4});    // 4 KiB inside the 2 MiB range
  EXPECT_EQ(collect(r, 2, 0x5ff, 0x5ff), (std::vector<Entry>{{1, 2}}));
  EXPECT_TRUE(collect(r, 2, 0x600, 0x600).empty());
  EXPECT_EQ(collect(r, 3, 0x7ffff, 0x7ffff), (std::vector<Entry>{{5, 1}}));
  EXPECT_EQ(collect(r, 1, 0x400, 0x5ff), (std::vector<Entry>{{3, 4}}));
  EXPECT_TRUE(collect(r, 1, 0x400, 0x5fe).empty());
}

TEST(ShadowRmap, RangesCrossChunksAndSkipMissingOnes) {
  ShadowRmap r;
  // Chunks of 4096 gfns: 0xfff is in chunk 0, 0x1000 in chunk 1, 0x5000 in chunk 5.
  r.add(1, 0xfff, {1, 0});
  r.add(1, 0x1000, {2, 0});
  r.add(1, 0x5000, {3, 0});
  EXPECT_EQ(collect(r, 1, 0xfff, 0x5000), (std::vector<Entry>{{1, 0}, {2, 0}, {3, 0}}));
  EXPECT_EQ(collect(r, 1, 0x1001, 0x4fff), std::vector<Entry>{});
  EXPECT_EQ(collect(r, 1, 0, ~std::uint64_t{0} >> 12).size(), 3u);
  r.clear();
  EXPECT_EQ(r.entries(), 0u);
  EXPECT_TRUE(collect(r, 1, 0, 0xffff).empty());
}

TEST(ShadowRmap, RemovingALeafThatIsNotThereThrows) {
  ShadowRmap r;
  EXPECT_THROW(r.remove(1, 0x10, {1, 1}), std::logic_error);
  r.add(1, 0x10, {1, 1});
  EXPECT_THROW(r.remove(1, 0x10, {1, 2}), std::logic_error);
  EXPECT_THROW(r.remove(2, 0x10, {1, 1}), std::logic_error);
  r.add(1, 0x10, {1, 2});
  EXPECT_THROW(r.remove(1, 0x10, {1, 3}), std::logic_error);
  EXPECT_EQ(r.entries(), 2u);
}

}  // namespace
}  // namespace pagesim::shadow
