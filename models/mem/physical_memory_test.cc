#include "models/mem/physical_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

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

TEST(PhysicalMemory, ZeroFrameClearsOneFrameOnly) {
  PhysicalMemory m(64 * kMiB);
  for (std::uint64_t off = 0; off < 3 * PhysicalMemory::kFrameBytes; off += 8) {
    m.write_u64(Hpa(0x4000 + off), off + 1);
  }
  m.zero_frame(Hpa(0x5000));
  EXPECT_EQ(m.read_u64(Hpa(0x4ff8)), 0xff9u);  // the frame below: untouched
  for (std::uint64_t off = 0; off < PhysicalMemory::kFrameBytes; off += 8) {
    ASSERT_EQ(m.read_u64(Hpa(0x5000 + off)), 0u) << off;
  }
  EXPECT_EQ(m.read_u64(Hpa(0x6000)), 0x2001u);  // the frame above: untouched
}

// RAM with holes: a 6 GiB guest as QEMU's pc machine lays it out (frame_allocator.h's worked
// example): low RAM, the VGA/ROM hole [640K, 1M), RAM up to 3 GiB, the PCI hole [3G, 4G),
// high RAM [4G, 7G).
constexpr std::uint64_t k4K = 4 * kKiB;
const std::vector<RamRange> kPcGuest = {
    {0, 640 * kKiB}, {1 * kMiB, 3 * kGiB}, {4 * kGiB, 7 * kGiB}};

TEST(RangeFrameAllocator, WorkedExampleOfTheHeader) {
  GuestFrameAllocator a(kPcGuest, 1 * kMiB);
  // Tables: the first byte at or above first_byte (1M) inside a range: 1M, then up.
  EXPECT_EQ(a.allocate_table(), Gpa(1 * kMiB));
  EXPECT_EQ(a.allocate_table(), Gpa(1 * kMiB + k4K));
  // Data: the top of the highest range [4G, 7G) is 7G; 4 KiB frames from there down.
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(7 * kGiB - k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(7 * kGiB - 2 * k4K));
  // 2 MiB: the highest 2M-aligned base b with b + 2M <= 7G - 8K is 7G - 4M.
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(7 * kGiB - 4 * kMiB));
  // 1 GiB: the highest 1G-aligned base b with b + 1G <= 7G - 4M is 5G.
  EXPECT_EQ(a.allocate(PageSize::k1G), Gpa(5 * kGiB));
  // Then 4 KiB continues below the 1 GiB frame: 5G - 4K.
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(5 * kGiB - k4K));
  EXPECT_EQ(a.frames_allocated(PageSize::k4K), 3u);
  EXPECT_EQ(a.table_frames_allocated(), 2u);
  EXPECT_EQ(a.allocated_bytes(), 5 * k4K + 2 * kMiB + kGiB);
}

TEST(RangeFrameAllocator, HugeDataFramesSkipThePciHole) {
  GuestFrameAllocator a(kPcGuest, 1 * kMiB);
  // 1 GiB frames from the top of [4G, 7G): 6G, 5G, 4G; the next would be [3G, 4G), the
  // PCI hole, so it comes from [1M, 3G): its highest 1G-aligned frame is [2G, 3G); then
  // [1G, 2G). [0, 1G) would overlap the table frames from 1M: out of memory.
  for (std::uint64_t base : {6 * kGiB, 5 * kGiB, 4 * kGiB, 2 * kGiB, 1 * kGiB}) {
    EXPECT_EQ(a.allocate(PageSize::k1G), Gpa(base));
  }
  EXPECT_THROW(a.allocate(PageSize::k1G), OutOfMemory);
  // A refused request changes nothing: the next 2 MiB frame is just below 1G.
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(1 * kGiB - 2 * kMiB));
}

TEST(RangeFrameAllocator, DataFramesNeverStraddleAHole) {
  // High RAM [4G + 1M, 4G + 5M): the highest 2M-aligned frame inside it is [4G + 2M, 4G + 4M)
  // (4G + 4M + 2M > 4G + 5M). The next, [4G, 4G + 2M), would start in the
  // hole below 4G + 1M, so it comes from [1M, 3G): [3G - 2M, 3G). The 4 KiB frame after it
  // continues below that, at 3G - 2M - 4K; [4G + 1M, 4G + 2M) and [4G + 4M, 4G + 5M) stay
  // unused (the order is fixed, not packed).
  GuestFrameAllocator a({{1 * kMiB, 3 * kGiB}, {4 * kGiB + 1 * kMiB, 4 * kGiB + 5 * kMiB}}, kMiB);
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(4 * kGiB + 2 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Gpa(3 * kGiB - 2 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(3 * kGiB - 2 * kMiB - k4K));
}

TEST(RangeFrameAllocator, FourKiBDataFramesCrossTheHoleDensely) {
  // High RAM is 8 KiB, [4G, 4G + 8K): 4G + 4K, 4G; the next 4 KiB frame is the top of the
  // range below, 3G - 4K.
  GuestFrameAllocator a({{1 * kMiB, 3 * kGiB}, {4 * kGiB, 4 * kGiB + 2 * k4K}}, kMiB);
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(4 * kGiB + k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(4 * kGiB));
  EXPECT_EQ(a.allocate(PageSize::k4K), Gpa(3 * kGiB - k4K));
}

TEST(RangeFrameAllocator, TableFramesSkipHolesUpwards) {
  // first_byte 3G - 8K: two table frames below the PCI hole (3G - 8K, 3G - 4K), then the
  // begin of the next range up, 4G, and on.
  GuestFrameAllocator a(kPcGuest, 3 * kGiB - 2 * k4K);
  EXPECT_EQ(a.allocate_table(), Gpa(3 * kGiB - 2 * k4K));
  EXPECT_EQ(a.allocate_table(), Gpa(3 * kGiB - k4K));
  EXPECT_EQ(a.allocate_table(), Gpa(4 * kGiB));
  EXPECT_EQ(a.allocate_table(), Gpa(4 * kGiB + k4K));
  // first_byte 636K: the last frame of low RAM, then 1M (the start of the range after the
  // VGA hole).
  GuestFrameAllocator low(kPcGuest, 636 * kKiB);
  EXPECT_EQ(low.allocate_table(), Gpa(636 * kKiB));
  EXPECT_EQ(low.allocate_table(), Gpa(1 * kMiB));
  // first_byte inside a hole: the first RAM byte above it (700K -> 1M; 3.5G -> 4G).
  GuestFrameAllocator in_vga_hole(kPcGuest, 700 * kKiB);
  EXPECT_EQ(in_vga_hole.allocate_table(), Gpa(1 * kMiB));
  GuestFrameAllocator in_pci_hole(kPcGuest, 3 * kGiB + 512 * kMiB);
  EXPECT_EQ(in_pci_hole.allocate_table(), Gpa(4 * kGiB));
}

TEST(RangeFrameAllocator, TablesMeetDataAcrossAHole) {
  // RAM [1M, 1M + 8K) and [2M, 2M + 8K). Data: 2M + 4K, then 2M. Tables: 1M, 1M + 4K; the
  // next would be 2M, already a data frame: out of memory. Data likewise finds no room
  // above the last table frame (1M + 8K is the end of its range).
  FrameAllocator a({{1 * kMiB, 1 * kMiB + 2 * k4K}, {2 * kMiB, 2 * kMiB + 2 * k4K}}, kMiB);
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(2 * kMiB + k4K));
  EXPECT_EQ(a.allocate(PageSize::k4K), Hpa(2 * kMiB));
  EXPECT_EQ(a.allocate_table(), Hpa(1 * kMiB));
  EXPECT_EQ(a.allocate_table(), Hpa(1 * kMiB + k4K));
  EXPECT_THROW(a.allocate_table(), OutOfMemory);
  EXPECT_THROW(a.allocate(PageSize::k4K), OutOfMemory);

  // Tables first: they cross into the high range and stop below the data frames there.
  // RAM [1M, 1M + 4K) and [2M, 2M + 12K): tables 1M, 2M; data 2M + 8K, 2M + 4K; then both
  // are refused.
  FrameAllocator b({{1 * kMiB, 1 * kMiB + k4K}, {2 * kMiB, 2 * kMiB + 3 * k4K}}, kMiB);
  EXPECT_EQ(b.allocate_table(), Hpa(1 * kMiB));
  EXPECT_EQ(b.allocate_table(), Hpa(2 * kMiB));
  EXPECT_EQ(b.allocate(PageSize::k4K), Hpa(2 * kMiB + 2 * k4K));
  EXPECT_EQ(b.allocate(PageSize::k4K), Hpa(2 * kMiB + k4K));
  EXPECT_THROW(b.allocate(PageSize::k4K), OutOfMemory);
  EXPECT_THROW(b.allocate_table(), OutOfMemory);
}

TEST(RangeFrameAllocator, RangesRoundToFramesAndAdjacentOnesMerge) {
  // [1M + 100, 3M) rounds to [1M + 4K, 3M); [3M, 4M + 100) to [3M, 4M), which merges with
  // it: one range [1M + 4K, 4M), no hole at 3M. So the first 2 MiB frame, the highest
  // 2M-aligned one below 4M, is [2M, 4M), across the old boundary at 3M.
  FrameAllocator a({{1 * kMiB + 100, 3 * kMiB}, {3 * kMiB, 4 * kMiB + 100}}, kMiB);
  ASSERT_EQ(a.ranges().size(), 1u);
  EXPECT_EQ(a.ranges()[0], RamRange(1 * kMiB + k4K, 4 * kMiB));
  EXPECT_EQ(a.allocate(PageSize::k2M), Hpa(2 * kMiB));
  // Tables from the first frame at or above first_byte (1M) inside RAM: 1M + 4K.
  EXPECT_EQ(a.allocate_table(), Hpa(1 * kMiB + k4K));
}

TEST(RangeFrameAllocator, BadRangesAreRejected) {
  using Ranges = std::vector<RamRange>;
  EXPECT_THROW(FrameAllocator(Ranges{{2 * kMiB, 4 * kMiB}, {0, 1 * kMiB}}, 0),
               std::invalid_argument);  // not ascending
  EXPECT_THROW(FrameAllocator(Ranges{{0, 4 * kMiB}, {3 * kMiB, 8 * kMiB}}, 0),
               std::invalid_argument);  // overlapping
  EXPECT_THROW(FrameAllocator(Ranges{{0, 4 * kMiB}}, 4 * kMiB),
               std::invalid_argument);  // no RAM at or above first_byte
  EXPECT_THROW(FrameAllocator(Ranges{{0, 4 * kMiB}}, 100), std::invalid_argument);  // unaligned
  EXPECT_THROW(FrameAllocator(Ranges{}, 0), std::invalid_argument);
}

TEST(RangeFrameAllocator, OneRangeIsTheMachineAllocator) {
  // The (memory_bytes, first_byte) constructor is the range [0, memory_bytes): the same
  // frames for the same requests, including refusals.
  FrameAllocator machine(64 * kMiB, 1 * kMiB);
  FrameAllocator ranged(std::vector<RamRange>{{0, 64 * kMiB}}, 1 * kMiB);
  std::uint64_t x = 12345;
  int refusals = 0;
  for (int i = 0; i < 10000; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const unsigned pick = static_cast<unsigned>(x >> 60);  // 0..15
    auto request = [&](FrameAllocator& a) -> std::uint64_t {
      try {
        return pick < 8    ? a.allocate_table().value()
               : pick < 14 ? a.allocate(PageSize::k4K).value()
                           : a.allocate(PageSize::k2M).value();
      } catch (const OutOfMemory&) {
        return ~std::uint64_t{0};
      }
    };
    const std::uint64_t got = request(machine);
    ASSERT_EQ(got, request(ranged)) << "request " << i;
    refusals += got == ~std::uint64_t{0};
  }
  EXPECT_EQ(machine.allocated_bytes(), ranged.allocated_bytes());
  EXPECT_GT(refusals, 0);  // the sequence ran memory out
}

}  // namespace
}  // namespace pagesim::mem
