#include "models/mem/physical_memory.h"

#include <gtest/gtest.h>

#include "models/mem/frame_allocator.h"

namespace pagesim::mem {
namespace {

TEST(PhysicalMemory, UnwrittenFramesReadZeroAndTakeNoStorage) {
  PhysicalMemory m(64 * kMiB);
  EXPECT_EQ(m.read_u64(Hpa(0x123000)), 0u);
  EXPECT_EQ(m.stored_frames(), 0u);
}

TEST(PhysicalMemory, WritesLandInTheirFrameOnly) {
  PhysicalMemory m(64 * kMiB);
  m.write_u64(Hpa(0x5008), 0xdeadbeef);
  EXPECT_EQ(m.read_u64(Hpa(0x5008)), 0xdeadbeefu);
  EXPECT_EQ(m.read_u64(Hpa(0x5000)), 0u);
  EXPECT_EQ(m.read_u64(Hpa(0x6008)), 0u);
  EXPECT_EQ(m.stored_frames(), 1u);
  // The frame pointer is stable (the DMI pointer).
  EXPECT_EQ(m.frame(5)[1], 0xdeadbeefu);
}

TEST(FrameAllocator, SmallFramesAscendFromFirstByteHugeFramesDescendAligned) {
  FrameAllocator a(1 * kGiB, 1 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k4K).value(), 1 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k4K).value(), 1 * kMiB + 4096);
  // The top 2 MiB of 1 GiB, then the next one down.
  EXPECT_EQ(a.allocate(PageSize::k2M).value(), 1 * kGiB - 2 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M).value(), 1 * kGiB - 4 * kMiB);
  EXPECT_EQ(a.allocated_bytes(), 2 * 4096 + 4 * kMiB);
}

TEST(FrameAllocator, ExhaustionThrows) {
  FrameAllocator a(4 * kMiB, 1 * kMiB);
  EXPECT_THROW(a.allocate(PageSize::k1G), OutOfMemory);
  a.allocate(PageSize::k2M);  // [2M, 4M)
  for (int i = 0; i < 256; ++i) {  // [1M, 2M)
    a.allocate(PageSize::k4K);
  }
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);
}

}  // namespace
}  // namespace pagesim::mem
