// The free list of BasicFrameAllocator: reuse order, splits, refused frees, accounting and
// is_free. The fresh order is tested in physical_memory_test.cc. Every expected address
// below is derived from the order in frame_allocator.h's file comment.
#include "models/mem/frame_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "base/hex.h"

namespace pagesim::mem {
namespace {

constexpr std::uint64_t k4K = 4 * kKiB;

// free(frame, size) throws std::logic_error naming the frame (hex), the size and `why`.
template <class Allocator, class Pa>
void expect_refused(Allocator& a, Pa frame, PageSize size, const std::string& why) {
  const std::uint64_t in_use = a.in_use_bytes();
  const std::uint64_t free = a.free_bytes();
  try {
    a.free(frame, size);
    ADD_FAILURE() << "free(" << hex(frame.value()) << ") was accepted";
  } catch (const std::logic_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(hex(frame.value())), std::string::npos) << what;
    EXPECT_NE(what.find(std::string(page_size_name(size))), std::string::npos) << what;
    EXPECT_NE(what.find(why), std::string::npos) << what;
  }
  // A refused free changes nothing.
  EXPECT_EQ(a.in_use_bytes(), in_use);
  EXPECT_EQ(a.free_bytes(), free);
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorFree, FreedFramesAreReusedLastFreedFirstPerSize) {
  FrameAllocator a(64 * kMiB, 1 * kMiB);
  // Fresh 4 KiB frames descend from the top, 64M.
  const Hpa x1 = a.allocate(PageSize::k4K);
  const Hpa x2 = a.allocate(PageSize::k4K);
  EXPECT_EQ(x1, Hpa(64 * kMiB - k4K));
  EXPECT_EQ(x2, Hpa(64 * kMiB - 2 * k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(64 * kMiB - 3 * k4K));
  a.free(x2, PageSize::k4K);
  a.free(x1, PageSize::k4K);
  // LIFO: x1 was freed last, so it goes first, then x2; then fresh frames again, below the
  // lowest fresh one (64M - 12K): 64M - 16K.
  EXPECT_EQ(a.allocate(PageSize::k4K), x1);
  EXPECT_EQ(a.allocate(PageSize::k4K), x2);
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(64 * kMiB - 4 * k4K));

  // 2 MiB: the highest 2M-aligned frame ending at or below 64M - 16K: base <= 62M - 16K,
  // aligned down: 60M ([62M, 64M - 16K) is skipped). Then 58M.
  const Hpa y1 = a.allocate(PageSize::k2M);
  const Hpa y2 = a.allocate(PageSize::k2M);
  EXPECT_EQ(y1, Hpa(60 * kMiB));
  EXPECT_EQ(y2, Hpa(58 * kMiB));
  a.free(y1, PageSize::k2M);
  a.free(y2, PageSize::k2M);
  // Free 2 MiB frames do not serve 4 KiB requests while fresh space is left: the next 4 KiB
  // frame is fresh, below 58M.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(58 * kMiB - k4K));
  // LIFO per size: y2 (freed last), y1; then fresh: base <= 58M - 4K - 2M, aligned: 54M.
  EXPECT_EQ(a.allocate(PageSize::k2M), y2);
  EXPECT_EQ(a.allocate(PageSize::k2M), y1);
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(54 * kMiB));

  // 4 KiB: 3 fresh + 2 reused + 2 fresh = 7 handed out, 2 freed. 2 MiB: 2 fresh + 2 reused
  // + 1 fresh = 5 handed out, 2 freed.
  EXPECT_EQ(a.frames_allocated(PageSize::k4K), 7u);
  EXPECT_EQ(a.frames_freed(PageSize::k4K), 2u);
  EXPECT_EQ(a.frames_allocated(PageSize::k2M), 5u);
  EXPECT_EQ(a.frames_freed(PageSize::k2M), 2u);
  // allocated_bytes counts traffic (reuse included); in_use_bytes what is held now.
  EXPECT_EQ(a.allocated_bytes(), 7 * k4K + 5 * 2 * kMiB);
  EXPECT_EQ(a.in_use_bytes(), 5 * k4K + 3 * 2 * kMiB);
  // Skipped: [62M, 64M - 16K) above 60M, and [56M, 58M - 4K) above 54M.
  EXPECT_EQ(a.unusable_bytes(), (2 * kMiB - 4 * k4K) + (2 * kMiB - k4K));
  EXPECT_EQ(a.total_bytes(), 63 * kMiB);  // [1M, 64M)
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorFree, WorkedExampleOfTheHeader) {
  // A 6 MiB machine, first_byte 2M: the managed RAM is [2M, 6M).
  FrameAllocator a(6 * kMiB, 2 * kMiB);
  EXPECT_EQ(a.total_bytes(), 4 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(4 * kMiB));
  // The next 2 MiB frame's floor is the next table frame, 2M: [2M, 4M), and nothing is
  // fresh any more.
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kMiB));
  EXPECT_EQ(a.fresh_bytes(), 0u);
  a.free(Hpa(4 * kMiB), PageSize::k2M);
  // No free 4 KiB frame, no fresh space: 4M is split; the request gets its highest 4 KiB
  // frame, 6M - 4K, the rest 4M ... 6M - 8K goes out descending.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB - k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB - 2 * k4K));
  a.free(Hpa(6 * kMiB - k4K), PageSize::k4K);
  // LIFO: the frame freed last goes first, before the rest of the split.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB - k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB - 3 * k4K));
  // No coalescing: 2M - 12K free in 4 KiB frames, but no 2 MiB frame.
  EXPECT_THROW(a.allocate(PageSize::k2M), OutOfMemory);
  // A table frame takes a freed 4 KiB frame once nothing is fresh: the next one down.
  EXPECT_EQ(a.allocate_table(), Hpa(6 * kMiB - 4 * k4K));
  EXPECT_EQ(a.in_use_bytes(), 2 * kMiB + 4 * k4K);
  EXPECT_EQ(a.free_bytes(), 2 * kMiB - 4 * k4K);
  EXPECT_EQ(a.unusable_bytes(), 0u);
  EXPECT_TRUE(a.accounting_balances());

  // The other 508 pieces, 6M - 20K down to 6M - 20K - 507 * 4K = 4M, then nothing.
  for (std::uint64_t i = 0; i < 508; ++i) {
    ASSERT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB - 5 * k4K - i * k4K)) << i;
  }
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);
  EXPECT_EQ(a.in_use_bytes(), a.total_bytes());
  EXPECT_EQ(a.free_bytes(), 0u);
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorFree, A4KiBRequestSplitsTheMostRecentlyFreed2MiBFrame) {
  // An 8 MiB machine, first_byte 2M: 2 MiB frames 6M, 4M, 2M fill [2M, 8M).
  FrameAllocator a(8 * kMiB, 2 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(6 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(4 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kMiB));
  a.free(Hpa(4 * kMiB), PageSize::k2M);
  a.free(Hpa(6 * kMiB), PageSize::k2M);
  // 6M was freed last: it is split, and the request gets its highest 4 KiB frame, 8M - 4K.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(8 * kMiB - k4K));
  // 4M is still a whole free 2 MiB frame.
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(4 * kMiB));
  // 4 KiB requests go on down the split frame: 8M - 8K.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(8 * kMiB - 2 * k4K));
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorFree, FreedGiBFramesSplitInto2MiBOr4KiBFrames) {
  // A 2 GiB machine, first_byte 1G: the one 1 GiB data frame is [1G, 2G).
  FrameAllocator a(2 * kGiB, 1 * kGiB);
  EXPECT_EQ(a.allocate(PageSize::k1G), Hpa(1 * kGiB));
  a.free(Hpa(1 * kGiB), PageSize::k1G);
  // 2 MiB: no free 2 MiB frame, nothing fresh: split 1G into 2 MiB frames, highest first:
  // 2G - 2M, then 2G - 4M.
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kGiB - 2 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kGiB - 4 * kMiB));
  // 4 KiB: the 2 MiB list's next frame, [2G - 6M, 2G - 4M), is split: its highest 4 KiB
  // frame is 2G - 4M - 4K; then 2G - 4M - 8K.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(2 * kGiB - 4 * kMiB - k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(2 * kGiB - 4 * kMiB - 2 * k4K));
  // A freed 2 MiB frame is not split while 4 KiB frames are free: 2G - 4M - 12K.
  a.free(Hpa(2 * kGiB - 2 * kMiB), PageSize::k2M);
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(2 * kGiB - 4 * kMiB - 3 * k4K));
  // 2 MiB: LIFO, the frame freed last (2G - 2M), then the rest of the 1 GiB split below
  // the one split into 4 KiB frames: 2G - 8M.
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kGiB - 2 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kGiB - 8 * kMiB));
  // The split 1 GiB frame stays split: no 1 GiB frame, and 1G is no 1 GiB frame to free.
  EXPECT_THROW(a.allocate(PageSize::k1G), OutOfMemory);
  expect_refused(a, Hpa(1 * kGiB), PageSize::k1G, "went out as 2m frames");
  // Nor is the 2 MiB frame split into 4 KiB frames a 2 MiB frame any more.
  expect_refused(a, Hpa(2 * kGiB - 6 * kMiB), PageSize::k2M, "went out as 4k frames");
  a.free(Hpa(2 * kGiB - 4 * kMiB - k4K), PageSize::k4K);
  EXPECT_TRUE(a.accounting_balances());

  // With no 2 MiB frame free, a 4 KiB request splits a freed 1 GiB frame into 4 KiB frames
  // directly: 2G - 4K, then 2G - 8K; no 2 MiB frame comes of it.
  FrameAllocator b(2 * kGiB, 1 * kGiB);
  b.free(b.allocate(PageSize::k1G), PageSize::k1G);
  EXPECT_EQ(b.allocate(PageSize::k4K), Hpa(2 * kGiB - k4K));
  EXPECT_EQ(b.allocate(PageSize::k4K), Hpa(2 * kGiB - 2 * k4K));
  EXPECT_THROW(b.allocate(PageSize::k2M), OutOfMemory);
  EXPECT_EQ(b.free_bytes(), 1 * kGiB - 2 * k4K);
  EXPECT_TRUE(b.accounting_balances());
}

TEST(FrameAllocatorFree, RefusesMisalignedDoubleAndForeignFrees) {
  FrameAllocator a(64 * kMiB, 1 * kMiB);
  const Hpa table = a.allocate_table();  // 1M
  const Hpa small = a.allocate(PageSize::k4K);
  // base <= 64M - 4K - 2M, aligned down: 60M; [62M, 64M - 4K) is an alignment gap.
  const Hpa big = a.allocate(PageSize::k2M);
  ASSERT_EQ(table, Hpa(1 * kMiB));
  ASSERT_EQ(small, Hpa(64 * kMiB - k4K));  // 0x3fff000
  ASSERT_EQ(big, Hpa(60 * kMiB));          // 0x3c00000

  expect_refused(a, big + k4K, PageSize::k2M, "not aligned");            // 0x3c01000
  expect_refused(a, Hpa(62 * kMiB), PageSize::k4K, "gap");               // the gap
  expect_refused(a, big + k4K, PageSize::k4K, "went out as 2m frames");  // inside big
  expect_refused(a, table, PageSize::k4K, "not a data frame handed out so far");
  expect_refused(a, Hpa(32 * kMiB), PageSize::k4K, "handed out so far");  // fresh
  expect_refused(a, Hpa(64 * kMiB), PageSize::k4K, "handed out so far");  // above RAM

  a.free(small, PageSize::k4K);
  expect_refused(a, small, PageSize::k4K, "double free");
  a.free(big, PageSize::k2M);
  expect_refused(a, big, PageSize::k2M, "double free");
  // A piece of the free 2 MiB frame is no 4 KiB frame either.
  expect_refused(a, big + k4K, PageSize::k4K, "went out as 2m frames");
  // Reused, the frames can be freed again, once.
  EXPECT_EQ(a.allocate(PageSize::k4K), small);
  a.free(small, PageSize::k4K);
  expect_refused(a, small, PageSize::k4K, "double free");

  // Gpa, RAM with a hole: 4 KiB frames 4G + 4K, 4G, then 3G - 4K below the hole. A frame
  // in the hole [3G, 4G) lies in the data region but was never handed out.
  GuestFrameAllocator g({{1 * kMiB, 3 * kGiB}, {4 * kGiB, 4 * kGiB + 2 * k4K}}, kMiB);
  EXPECT_EQ(g.allocate(PageSize::k4K), Gpa(4 * kGiB + k4K));
  EXPECT_EQ(g.allocate(PageSize::k4K), Gpa(4 * kGiB));
  EXPECT_EQ(g.allocate(PageSize::k4K), Gpa(3 * kGiB - k4K));
  expect_refused(g, Gpa(3 * kGiB + 512 * kMiB), PageSize::k4K, "hole");
  g.free(Gpa(4 * kGiB), PageSize::k4K);
  expect_refused(g, Gpa(4 * kGiB), PageSize::k4K, "double free");
}

TEST(FrameAllocatorFree, AllocateAfterFreeSucceedsWhenMemoryIsFull) {
  // An 8 MiB machine, first_byte 4M: 1024 4 KiB frames, 8M - 4K down to 4M.
  FrameAllocator a(8 * kMiB, 4 * kMiB);
  for (std::uint64_t i = 0; i < 1024; ++i) {
    ASSERT_EQ(a.allocate(PageSize::k4K), Hpa(8 * kMiB - (i + 1) * k4K));
  }
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);
  a.free(Hpa(6 * kMiB), PageSize::k4K);
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB));
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);
  a.free(Hpa(6 * kMiB), PageSize::k4K);
  a.free(Hpa(5 * kMiB), PageSize::k4K);
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(5 * kMiB));  // freed last
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB));
  // 512 free 4 KiB frames of one 2 MiB frame do not make a 2 MiB frame (no coalescing).
  for (std::uint64_t f = 6 * kMiB; f < 8 * kMiB; f += k4K) {
    a.free(Hpa(f), PageSize::k4K);
  }
  EXPECT_THROW(a.allocate(PageSize::k2M), OutOfMemory);
  EXPECT_EQ(a.free_bytes(), 2 * kMiB);
  EXPECT_TRUE(a.accounting_balances());

  // Full of 2 MiB frames (6M, 4M): a freed one comes back.
  FrameAllocator b(8 * kMiB, 4 * kMiB);
  EXPECT_EQ(b.allocate(PageSize::k2M), Hpa(6 * kMiB));
  EXPECT_EQ(b.allocate(PageSize::k2M), Hpa(4 * kMiB));
  EXPECT_THROW(b.allocate(PageSize::k2M), OutOfMemory);
  b.free(Hpa(6 * kMiB), PageSize::k2M);
  EXPECT_EQ(b.allocate(PageSize::k2M), Hpa(6 * kMiB));
  EXPECT_THROW(b.allocate(PageSize::k2M), OutOfMemory);
}

TEST(FrameAllocatorFree, IsFreeTellsFreshAndFreedFramesFromTheRest) {
  // RAM [0, 640K), [1M, 16M), [32M, 40M); first_byte 1M.
  GuestFrameAllocator a({{0, 640 * kKiB}, {1 * kMiB, 16 * kMiB}, {32 * kMiB, 40 * kMiB}}, kMiB);
  EXPECT_EQ(a.allocate_table(), Gpa(1 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(40 * kMiB - k4K));
  // base <= 40M - 4K - 2M, aligned down: 36M; [38M, 40M - 4K) is an alignment gap.
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(36 * kMiB));

  EXPECT_FALSE(a.is_free(Gpa(4 * k4K)));              // RAM below first_byte
  EXPECT_FALSE(a.is_free(Gpa(700 * kKiB)));           // the hole [640K, 1M)
  EXPECT_FALSE(a.is_free(Gpa(1 * kMiB)));             // the table frame
  EXPECT_TRUE(a.is_free(Gpa(1 * kMiB + k4K)));        // fresh, just above it
  EXPECT_TRUE(a.is_free(Gpa(1 * kMiB + k4K + 123)));  // any byte of that 4 KiB frame
  EXPECT_TRUE(a.is_free(Gpa(16 * kMiB - k4K)));       // fresh, the top of [1M, 16M)
  EXPECT_FALSE(a.is_free(Gpa(16 * kMiB)));            // the hole [16M, 32M)
  EXPECT_TRUE(a.is_free(Gpa(36 * kMiB - k4K)));       // fresh, below the 2 MiB frame
  EXPECT_FALSE(a.is_free(Gpa(36 * kMiB)));            // in use
  EXPECT_FALSE(a.is_free(Gpa(38 * kMiB)));            // the gap: unusable, not free
  EXPECT_FALSE(a.is_free(Gpa(40 * kMiB - k4K)));      // in use
  EXPECT_FALSE(a.is_free(Gpa(40 * kMiB)));            // above RAM

  a.free(Gpa(36 * kMiB), PageSize::k2M);
  EXPECT_TRUE(a.is_free(Gpa(36 * kMiB)));  // all of the freed frame
  EXPECT_TRUE(a.is_free(Gpa(38 * kMiB - k4K)));
  EXPECT_FALSE(a.is_free(Gpa(38 * kMiB)));  // still the gap
  // A 4 KiB request takes fresh space (36M - 4K), not the free 2 MiB frame.
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(36 * kMiB - k4K));
  EXPECT_FALSE(a.is_free(Gpa(36 * kMiB - k4K)));
  EXPECT_TRUE(a.is_free(Gpa(36 * kMiB)));
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(36 * kMiB));  // reused
  EXPECT_FALSE(a.is_free(Gpa(36 * kMiB)));
  EXPECT_FALSE(a.is_free(Gpa(38 * kMiB - k4K)));

  // Managed RAM [1M, 16M) + [32M, 40M) = 23M. In use: a table frame, two 4 KiB frames and
  // a 2 MiB frame. Unusable: the gap [38M, 40M - 4K).
  EXPECT_EQ(a.total_bytes(), 23 * kMiB);
  EXPECT_EQ(a.in_use_bytes(), 3 * k4K + 2 * kMiB);
  EXPECT_EQ(a.unusable_bytes(), 2 * kMiB - k4K);
  EXPECT_EQ(a.free_bytes(), 23 * kMiB - (3 * k4K + 2 * kMiB) - (2 * kMiB - k4K));
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorFree, UnusableBytesAreWhatTheDescentSkipped) {
  // RAM [1M, 3G), [4G, 4G + 1M), [5G, 5G + 8K). The first 2 MiB frame fits in neither
  // high range, so it is [3G - 2M, 3G): [5G, 5G + 8K) and [4G, 4G + 1M) stay unused.
  FrameAllocator a(
      {{1 * kMiB, 3 * kGiB}, {4 * kGiB, 4 * kGiB + kMiB}, {5 * kGiB, 5 * kGiB + 2 * k4K}}, kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(3 * kGiB - 2 * kMiB));
  EXPECT_EQ(a.unusable_bytes(), 2 * k4K + 1 * kMiB);
  // A 4 KiB frame after it, then a 2 MiB one: base <= 3G - 2M - 4K - 2M, aligned down:
  // 3G - 6M; [3G - 4M, 3G - 2M - 4K) is skipped.
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(3 * kGiB - 2 * kMiB - k4K));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(3 * kGiB - 6 * kMiB));
  EXPECT_EQ(a.unusable_bytes(), 2 * k4K + 1 * kMiB + (2 * kMiB - k4K));
  EXPECT_EQ(a.total_bytes(), 3 * kGiB - kMiB + kMiB + 2 * k4K);
  EXPECT_TRUE(a.accounting_balances());
  // The skipped bytes are never handed out: no free() takes them.
  expect_refused(a, Hpa(4 * kGiB), PageSize::k4K, "gap");
  expect_refused(a, Hpa(3 * kGiB - 4 * kMiB), PageSize::k4K, "gap");
}

TEST(FrameAllocatorFree, RandomAllocateAndFreeKeepTheAccountingBalanced) {
  // RAM with holes, 91 MiB managed from 1M: [1M, 40M), [48M, 100M). 1 GiB requests never
  // fit (refused). Phases of 5000 requests alternate: mostly allocations (memory runs out),
  // then mostly frees. A reference model checks every frame handed out.
  const std::vector<RamRange> ram = {
      {0, 640 * kKiB}, {1 * kMiB, 40 * kMiB}, {48 * kMiB, 100 * kMiB}};
  FrameAllocator a(ram, kMiB);
  const std::uint64_t total = 39 * kMiB + 52 * kMiB;
  ASSERT_EQ(a.total_bytes(), total);

  std::map<std::uint64_t, std::uint64_t> held;           // base -> bytes, tables and data
  std::vector<std::pair<std::uint64_t, PageSize>> data;  // data frames held
  std::uint64_t held_bytes = 0;
  std::uint64_t tables = 0;
  int refusals = 0;
  int out_of_fresh_space = 0;  // data frames handed out while nothing was fresh
  int frees = 0;
  auto hand_out = [&](std::uint64_t base, std::uint64_t bytes) {
    ASSERT_EQ(base % bytes, 0u);
    // Inside managed RAM.
    bool in_ram = false;
    for (const auto& [begin, end] : ram) {
      in_ram |= base >= std::max(begin, kMiB) && base + bytes <= end;
    }
    ASSERT_TRUE(in_ram) << hex(base);
    // Overlapping nothing held.
    const auto above = held.lower_bound(base);
    ASSERT_TRUE(above == held.end() || above->first >= base + bytes) << hex(base);
    ASSERT_TRUE(above == held.begin() || std::prev(above)->first + std::prev(above)->second <= base)
        << hex(base);
    held.emplace(base, bytes);
    held_bytes += bytes;
    EXPECT_FALSE(a.is_free(Hpa(base)));
    EXPECT_FALSE(a.is_free(Hpa(base + bytes - k4K)));
  };

  std::uint64_t x = 2024;
  for (int i = 0; i < 40000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const unsigned pick = static_cast<unsigned>(x >> 58);  // 0..63
    const bool freeing_phase = (i / 5000) % 2 == 1;
    const unsigned free_below = freeing_phase ? 44 : 12;  // picks below this free a frame
    if (pick < free_below) {
      if (data.empty()) {
        continue;
      }
      const std::size_t k = static_cast<std::size_t>((x >> 20) % data.size());
      const auto [base, size] = data[k];
      data[k] = data.back();
      data.pop_back();
      a.free(Hpa(base), size);
      held.erase(base);
      held_bytes -= page_bytes(size);
      ++frees;
      EXPECT_TRUE(a.is_free(Hpa(base)));
      EXPECT_TRUE(a.is_free(Hpa(base + page_bytes(size) - k4K)));
    } else {
      const PageSize size = pick < 50   ? PageSize::k4K
                            : pick < 60 ? PageSize::k2M
                            : pick < 62 ? PageSize::k1G
                                        : PageSize::k4K;
      const bool table = pick >= 62;
      const bool fresh_left = a.fresh_bytes() != 0;
      try {
        if (table) {
          const Hpa t = a.allocate_table();
          hand_out(t.value(), k4K);
          ++tables;
          // Once nothing is fresh, a table frame is a freed 4 KiB frame (never freed back).
        } else {
          const Hpa d = a.allocate(size);
          hand_out(d.value(), page_bytes(size));
          data.emplace_back(d.value(), size);
          out_of_fresh_space += !fresh_left;
        }
      } catch (const OutOfMemory&) {
        ++refusals;
      }
    }
    ASSERT_TRUE(a.accounting_balances()) << "request " << i;
    ASSERT_EQ(a.in_use_bytes(), held_bytes) << "request " << i;
  }
  EXPECT_GT(refusals, 0);            // memory ran out
  EXPECT_GT(out_of_fresh_space, 0);  // and freed frames kept serving requests
  EXPECT_GT(frees, 0);
  EXPECT_EQ(a.table_frames_allocated(), tables);
  // allocated_bytes: every frame handed out.
  EXPECT_EQ(a.allocated_bytes(), tables * k4K + a.frames_allocated(PageSize::k4K) * k4K +
                                     a.frames_allocated(PageSize::k2M) * 2 * kMiB +
                                     a.frames_allocated(PageSize::k1G) * kGiB);

  // Everything back: only the table frames stay in use.
  for (const auto& [base, size] : data) {
    a.free(Hpa(base), size);
  }
  EXPECT_EQ(a.in_use_bytes(), tables * k4K);
  EXPECT_EQ(a.free_bytes() + a.unusable_bytes() + tables * k4K, total);
  EXPECT_TRUE(a.accounting_balances());
}

TEST(FrameAllocatorSplitInUse, A2MiBFrameInUseIsFreedAs4KiBFrames) {
  // An 8 MiB machine, first_byte 4M: the 2 MiB frames 6M and 4M.
  FrameAllocator a(8 * kMiB, 4 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(6 * kMiB));
  const std::uint64_t in_use = a.in_use_bytes();
  a.split_in_use(Hpa(6 * kMiB));
  EXPECT_EQ(a.in_use_bytes(), in_use);  // a split changes no byte's state
  EXPECT_TRUE(a.accounting_balances());
  // Now only 4 KiB frees of it are right.
  EXPECT_THROW(a.free(Hpa(6 * kMiB), PageSize::k2M), std::logic_error);
  a.free(Hpa(6 * kMiB + 4 * k4K), PageSize::k4K);
  EXPECT_TRUE(a.is_free(Hpa(6 * kMiB + 4 * k4K)));
  EXPECT_FALSE(a.is_free(Hpa(6 * kMiB)));
  EXPECT_EQ(a.in_use_bytes(), in_use - k4K);
  EXPECT_TRUE(a.accounting_balances());
  // Only a 2 MiB data frame in use can be split.
  EXPECT_THROW(a.split_in_use(Hpa(6 * kMiB)), std::logic_error);  // split already: 4 KiB
  EXPECT_THROW(a.split_in_use(Hpa(4 * kMiB)), std::logic_error);  // fresh space
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(4 * kMiB));
  a.free(Hpa(4 * kMiB), PageSize::k2M);
  EXPECT_THROW(a.split_in_use(Hpa(4 * kMiB)), std::logic_error);        // free
  EXPECT_THROW(a.split_in_use(Hpa(6 * kMiB + k4K)), std::logic_error);  // misaligned
  // The freed 4 KiB piece serves the next 4 KiB request (LIFO, before splitting 4M).
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(6 * kMiB + 4 * k4K));
  EXPECT_TRUE(a.accounting_balances());
}

// Running out names the configuration key that sizes the memory, with its value: a guest's
// frames are vm.memory's, a machine's os.memory's unless its owner says otherwise (the
// host of a VM: host.memory). The allocation itself is the same.
std::string out_of_memory_message(auto& allocator, PageSize size) {
  try {
    for (;;) {
      (void)allocator.allocate(size);
    }
  } catch (const OutOfMemory& e) {
    return e.what();
  }
}

TEST(FrameAllocatorOutOfMemory, NamesTheKeyThatSizesTheMemory) {
  GuestFrameAllocator guest(std::vector<RamRange>{{0, 640 * kKiB}, {kMiB, 4 * kMiB}});
  std::string e = out_of_memory_message(guest, PageSize::k4K);
  EXPECT_NE(e.find("the guest is out of physical memory: no free 4k frame (vm.memory: "
                   "3712KiB of RAM outside the holes of the memory map, 3 MiB in use"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("): raise vm.memory"), std::string::npos) << e;
  FrameAllocator machine(8 * kMiB, kMiB);
  e = out_of_memory_message(machine, PageSize::k2M);
  EXPECT_NE(e.find("out of physical memory: no free 2m frame (os.memory: 8MiB of RAM, "),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("raise os.memory"), std::string::npos) << e;
  FrameAllocator host(8 * kMiB, kMiB);
  host.set_memory_key("host.memory");
  (void)out_of_memory_message(host, PageSize::k4K);
  try {
    (void)host.allocate_table();
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& error) {
    e = error.what();
  }
  EXPECT_NE(e.find("no fresh frame for a page table (host.memory: 8MiB of RAM, "),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("raise host.memory"), std::string::npos) << e;
}

}  // namespace
}  // namespace pagesim::mem
