// QEMU pc layout: each guest size's slots derived here from pc_init1()'s rule (hw/i386/
// pc_piix.c): below_4g = RAM if RAM < 3.5 GiB, else 3 GiB; the rest from 4 GiB; the VGA/ROM
// hole [640K, 1M) unmapped; HVAs = ram_base + block offset, the block in RAM order.
#include "models/host/qemu_layout.h"

#include <gtest/gtest.h>

#include <ostream>
#include <stdexcept>

namespace pagesim::host {

void PrintTo(const Memslot& s, std::ostream* os) {
  *os << describe(s) << " hva 0x" << std::hex << s.hva.value() << std::dec
      << (s.readonly ? " ro" : "");
}

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
const Hva kBase(0x7f0000000000);

TEST(QemuLayout, HalfGigabyte) {
  // 512 MiB < 3.5 GiB: all below 4 GiB. Low RAM 640K at block offset 0; RAM from 1M to
  // 512M at block offset 1M (the block's [640K, 1M) bytes are behind the hole).
  EXPECT_EQ(qemu_pc_below_4g_bytes(512 * MiB), 512 * MiB);
  EXPECT_EQ(qemu_pc_layout(512 * MiB, kBase),
            (std::vector<Memslot>{{0, Gpa(0), 640 * KiB, kBase, false},
                                  {1, Gpa(MiB), 511 * MiB, kBase + MiB, false}}));
}

TEST(QemuLayout, ThreeAndAHalfGigabytes) {
  // RAM >= max_ram_below_4g (3.5 GiB, ">=" in pc_init1) with gigabyte_align: lowmem = 3 GiB,
  // so 3 GiB below and 512 MiB from 4 GiB, at block offset 3 GiB.
  EXPECT_EQ(qemu_pc_below_4g_bytes(3584 * MiB), 3 * GiB);
  EXPECT_EQ(qemu_pc_layout(3584 * MiB, kBase),
            (std::vector<Memslot>{{0, Gpa(0), 640 * KiB, kBase, false},
                                  {1, Gpa(MiB), 3 * GiB - MiB, kBase + MiB, false},
                                  {2, Gpa(4 * GiB), 512 * MiB, kBase + 3 * GiB, false}}));
  // One page less stays below 4 GiB entirely (up to 0xdffff000).
  EXPECT_EQ(qemu_pc_below_4g_bytes(3584 * MiB - 4096), 3584 * MiB - 4096);
  EXPECT_EQ(qemu_pc_layout(3584 * MiB - 4096, kBase).size(), 2u);
}

TEST(QemuLayout, FourGigabytes) {
  // QEMU's own example: "-M pc -m 4G -> 3072M low, 1024M high".
  EXPECT_EQ(qemu_pc_layout(4 * GiB, kBase),
            (std::vector<Memslot>{{0, Gpa(0), 640 * KiB, kBase, false},
                                  {1, Gpa(MiB), 3 * GiB - MiB, kBase + MiB, false},
                                  {2, Gpa(4 * GiB), GiB, kBase + 3 * GiB, false}}));
}

TEST(QemuLayout, EightGigabytes) {
  // 3 GiB below, 5 GiB in [4G, 9G) at block offsets [3G, 8G).
  const std::vector<Memslot> slots = qemu_pc_layout(8 * GiB, kBase);
  EXPECT_EQ(slots, (std::vector<Memslot>{{0, Gpa(0), 640 * KiB, kBase, false},
                                         {1, Gpa(MiB), 3 * GiB - MiB, kBase + MiB, false},
                                         {2, Gpa(4 * GiB), 5 * GiB, kBase + 3 * GiB, false}}));
  // The last RAM byte has the last block offset: the block is exactly 8 GiB.
  const MemslotTable table(slots);
  const Gpa last(9 * GiB - 1);
  EXPECT_EQ(table.find(last)->to_hva(last), kBase + (8 * GiB - 1));
  // The holes are MMIO.
  EXPECT_EQ(table.find(Gpa(640 * KiB)), nullptr);
  EXPECT_EQ(table.find(Gpa(MiB - 1)), nullptr);
  EXPECT_EQ(table.find(Gpa(3 * GiB)), nullptr);
  EXPECT_EQ(table.find(Gpa(4 * GiB - 1)), nullptr);
  EXPECT_EQ(table.find(Gpa(9 * GiB)), nullptr);
  // Distinct GPAs map to distinct HVAs inside the block.
  EXPECT_EQ(table.find(Gpa(640 * KiB - 1))->to_hva(Gpa(640 * KiB - 1)), kBase + (640 * KiB - 1));
  EXPECT_EQ(table.find(Gpa(MiB))->to_hva(Gpa(MiB)), kBase + MiB);
  EXPECT_EQ(table.find(Gpa(3 * GiB - 1))->to_hva(Gpa(3 * GiB - 1)), kBase + (3 * GiB - 1));
  EXPECT_EQ(table.find(Gpa(4 * GiB))->to_hva(Gpa(4 * GiB)), kBase + 3 * GiB);
}

TEST(QemuLayout, TinyGuests) {
  EXPECT_EQ(qemu_pc_layout(512 * KiB, kBase),
            (std::vector<Memslot>{{0, Gpa(0), 512 * KiB, kBase, false}}));
  // 1 MiB: 640K of it is reachable; the rest lies behind the hole.
  EXPECT_EQ(qemu_pc_layout(MiB, kBase),
            (std::vector<Memslot>{{0, Gpa(0), 640 * KiB, kBase, false}}));
  EXPECT_EQ(qemu_pc_layout(MiB + 4096, kBase).back(),
            (Memslot{1, Gpa(MiB), 4096, kBase + MiB, false}));
}

TEST(QemuLayout, RefusesBadSizes) {
  EXPECT_THROW(qemu_pc_layout(0, kBase), std::invalid_argument);
  EXPECT_THROW(qemu_pc_layout(MiB + 1, kBase), std::invalid_argument);
  EXPECT_THROW(qemu_pc_layout(MiB, Hva(0x10)), std::invalid_argument);
}

TEST(RamRanges, TheE820View) {
  EXPECT_EQ(ram_ranges(qemu_pc_layout(8 * GiB, kBase)),
            (std::vector<GpaRange>{
                {Gpa(0), Gpa(640 * KiB)}, {Gpa(MiB), Gpa(3 * GiB)}, {Gpa(4 * GiB), Gpa(9 * GiB)}}));
  EXPECT_EQ(ram_ranges(qemu_pc_layout(512 * MiB, kBase)),
            (std::vector<GpaRange>{{Gpa(0), Gpa(640 * KiB)}, {Gpa(MiB), Gpa(512 * MiB)}}));
  // Unsorted input, adjacent slots merged, read-only slots left out.
  const std::vector<Memslot> slots = {{5, Gpa(2 * MiB), MiB, Hva(0), false},
                                      {6, Gpa(MiB), MiB, Hva(0), false},
                                      {7, Gpa(4 * GiB - 256 * KiB), 256 * KiB, Hva(0), true},
                                      {8, Gpa(8 * MiB), MiB, Hva(0), false}};
  EXPECT_EQ(ram_ranges(slots),
            (std::vector<GpaRange>{{Gpa(MiB), Gpa(3 * MiB)}, {Gpa(8 * MiB), Gpa(9 * MiB)}}));
  EXPECT_TRUE(ram_ranges({}).empty());
}

}  // namespace
}  // namespace pagesim::host
