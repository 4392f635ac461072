#include "models/mem/physical_memory.h"

#include <gtest/gtest.h>

#include "models/mem/frame_allocator.h"

namespace pagesim::mem {
namespace {

TEST(PhysicalMemory, UnwrittenFramesReadZero) {
  PhysicalMemory m(64 * kMiB);
  EXPECT_EQ(m.read_u64(Hpa(0x123000)), 0u);
  EXPECT_EQ(m.read_u64(Hpa(64 * kMiB - 8)), 0u);
}

TEST(PhysicalMemory, ATerabyteCostsOnlyWhatIsWritten) {
  // Address space only: the host backs the pages that are written.
  PhysicalMemory m(1024 * kGiB);
  m.write_u64(Hpa(1000 * kGiB), 7);
  EXPECT_EQ(m.read_u64(Hpa(1000 * kGiB)), 7u);
}

TEST(PhysicalMemory, WritesLandInTheirFrameOnly) {
  PhysicalMemory m(64 * kMiB);
  m.write_u64(Hpa(0x5008), 0xdeadbeef);
  EXPECT_EQ(m.read_u64(Hpa(0x5008)), 0xdeadbeefu);
  EXPECT_EQ(m.read_u64(Hpa(0x5000)), 0u);
  EXPECT_EQ(m.read_u64(Hpa(0x6008)), 0u);
  // The frame pointer is stable (the DMI pointer).
  EXPECT_EQ(m.frame(5)[1], 0xdeadbeefu);
}

TEST(FrameAllocator, TablesAscendFromFirstByteDataDescendAligned) {
  FrameAllocator a(1 * kGiB, 1 * kMiB);
  EXPECT_EQ(a.allocate_table().value(), 1 * kMiB);
  EXPECT_EQ(a.allocate_table().value(), 1 * kMiB + 4096);
  // Data from the top: the last 4 KiB frame, then the next aligned 2 MiB frame below it
  // (the rest of the top 2 MiB stays unused), then 4 KiB again below that.
  EXPECT_EQ(a.allocate(PageSize::k4K).value(), 1 * kGiB - 4096);
  EXPECT_EQ(a.allocate(PageSize::k2M).value(), 1 * kGiB - 4 * kMiB);
  EXPECT_EQ(a.allocate(PageSize::k4K).value(), 1 * kGiB - 4 * kMiB - 4096);
  EXPECT_EQ(a.allocated_bytes(), 2 * 4096 + 2 * 4096 + 2 * kMiB);
  EXPECT_EQ(a.table_frames_allocated(), 2u);
  EXPECT_EQ(a.frames_allocated(PageSize::k4K), 2u);
}

TEST(FrameAllocator, ExhaustionThrows) {
  FrameAllocator a(4 * kMiB, 1 * kMiB);
  EXPECT_THROW(a.allocate(PageSize::k1G), OutOfMemory);
  a.allocate(PageSize::k2M);       // [2M, 4M)
  for (int i = 0; i < 256; ++i) {  // [1M, 2M)
    a.allocate_table();
  }
  EXPECT_THROW(a.allocate_table(), OutOfMemory);
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);
}

}  // namespace
}  // namespace pagesim::mem
