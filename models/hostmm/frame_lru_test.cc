#include "models/hostmm/frame_lru.h"

#include <gtest/gtest.h>

#include <vector>

namespace pagesim::hostmm {
namespace {

std::vector<std::uint32_t> frames(const FrameLru& lru, LruList list) {
  std::vector<std::uint32_t> out;
  lru.for_each(list, [&](const FrameLru::Page& p) { out.push_back(p.frame); });
  return out;
}

TEST(FrameLru, AddsAtTheHeadAndTakesFromTheTail) {
  FrameLru lru;
  for (std::uint32_t f : {10U, 11U, 12U}) {
    lru.add({.frame = f, .owner = 1, .hva = Hva(std::uint64_t{f} << 12)}, LruList::kInactive);
  }
  EXPECT_EQ(frames(lru, LruList::kInactive), (std::vector<std::uint32_t>{12, 11, 10}));
  EXPECT_EQ(lru.tail(LruList::kInactive), 10U);  // the oldest
  EXPECT_EQ(lru.pages(LruList::kInactive), 3U);
  EXPECT_EQ(lru.tail(LruList::kActive), FrameLru::kNil);
  const FrameLru::Page p = lru.page(11);
  EXPECT_EQ(p.owner, 1);
  EXPECT_EQ(p.hva, Hva(11 << 12));
  EXPECT_EQ(p.list, LruList::kInactive);
  EXPECT_FALSE(p.referenced);
}

TEST(FrameLru, MovesKeepCountsAndFlags) {
  FrameLru lru;
  lru.add({.frame = 0x200, .owner = 0, .hva = Hva(0x7f0000200000), .size = PageSize::k2M},
          LruList::kInactive);
  lru.add({.frame = 5, .owner = 0, .hva = Hva(0x7f0000005000)}, LruList::kInactive);
  // A 2 MiB page counts 512 4 KiB pages (a folio's nr_pages), the 4 KiB one 1.
  EXPECT_EQ(lru.pages(LruList::kInactive), 513U);
  lru.move_to_head(0x200, LruList::kActive, /*referenced=*/false);
  EXPECT_EQ(lru.pages(LruList::kInactive), 1U);
  EXPECT_EQ(lru.pages(LruList::kActive), 512U);
  EXPECT_EQ(lru.page(0x200).list, LruList::kActive);
  EXPECT_EQ(lru.page(0x200).size, PageSize::k2M);
  lru.move_to_head(5, LruList::kInactive, /*referenced=*/true);
  EXPECT_TRUE(lru.page(5).referenced);
  lru.remove(5);
  EXPECT_FALSE(lru.contains(5));
  EXPECT_EQ(lru.pages(LruList::kInactive), 0U);
  EXPECT_EQ(lru.tail(LruList::kInactive), FrameLru::kNil);
  EXPECT_THROW(lru.remove(5), std::logic_error);
  EXPECT_THROW(lru.add({.frame = 0x200}, LruList::kInactive), std::logic_error);
}

TEST(FrameLru, ASplit2MiBPageLeavesItsPiecesInItsPlaceInAddressOrder) {
  FrameLru lru;
  // Tail to head: 7, the 2 MiB page at frame 0x200 (HVA 0x7f0000200000), 9.
  lru.add({.frame = 7, .owner = 2, .hva = Hva(0x7f0000007000)}, LruList::kInactive);
  lru.add({.frame = 0x200,
           .owner = 2,
           .hva = Hva(0x7f0000200000),
           .size = PageSize::k2M,
           .referenced = true},
          LruList::kInactive);
  lru.add({.frame = 9, .owner = 2, .hva = Hva(0x7f0000009000)}, LruList::kInactive);
  lru.split(0x200);
  // 512 + 2 pages, as before; from the tail: 7, then 0x200, 0x201, ... 0x3ff, then 9.
  EXPECT_EQ(lru.pages(LruList::kInactive), 514u);
  std::vector<std::uint32_t> head_to_tail;
  lru.for_each(LruList::kInactive, [&](const FrameLru::Page& p) {
    head_to_tail.push_back(p.frame);
    if (p.frame >= 0x200 && p.frame < 0x400) {
      // Each piece: 4 KiB, its own HVA, the process and flags of the huge page.
      EXPECT_EQ(p.size, PageSize::k4K);
      EXPECT_EQ(p.hva, Hva(0x7f0000200000 + std::uint64_t{p.frame - 0x200} * 4096));
      EXPECT_EQ(p.owner, 2);
      EXPECT_TRUE(p.referenced);
    }
  });
  ASSERT_EQ(head_to_tail.size(), 514u);
  EXPECT_EQ(head_to_tail.front(), 9u);
  EXPECT_EQ(head_to_tail.back(), 7u);
  for (std::uint32_t i = 0; i < 512; ++i) {
    EXPECT_EQ(head_to_tail[512 - i], 0x200 + i);
  }
  EXPECT_THROW(lru.split(0x201), std::logic_error);   // a 4 KiB page now
  EXPECT_THROW(lru.split(0x5000), std::logic_error);  // on no list
}

TEST(FrameLru, FramesFarApartLiveInTheirOwnChunks) {
  FrameLru lru;
  // 16 GiB and 1 TiB: frame numbers 2^22 and 2^28, chunks 64 and 4096.
  lru.add({.frame = 1U << 22}, LruList::kInactive);
  lru.add({.frame = 1U << 28}, LruList::kInactive);
  EXPECT_TRUE(lru.contains(1U << 22));
  EXPECT_FALSE(lru.contains((1U << 22) + 1));
  EXPECT_FALSE(lru.contains(1U << 27));  // a chunk never used
  EXPECT_EQ(frames(lru, LruList::kInactive), (std::vector<std::uint32_t>{1U << 28, 1U << 22}));
}

}  // namespace
}  // namespace pagesim::hostmm
