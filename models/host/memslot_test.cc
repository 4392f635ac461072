// MemslotTable: lookups at slot boundaries and in holes, and KVM_SET_USER_MEMORY_REGION's
// rules for add, delete and move (include/linux/kvm_host.h, virt/kvm/kvm_main.c).
#include "models/host/memslot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <type_traits>

namespace pagesim::host {
namespace {

using ::testing::HasSubstr;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;

// The message of the MemslotError `f` throws, or "" (a failure) if none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const MemslotError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a MemslotError";
  return "";
}

// Three slots with holes between and around them:
//   [0, 640K) id 0 -> hva 0x10000000;  [1M, 3M) id 1 -> 0x10100000;
//   [4G, 5G) id 7 -> 0x20000000 (read-only).
MemslotTable three_slots() {
  MemslotTable table;
  table.add({7, Gpa(4 * GiB), GiB, Hva(0x20000000), true});
  table.add({0, Gpa(0), 640 * KiB, Hva(0x10000000), false});
  table.add({1, Gpa(MiB), 2 * MiB, Hva(0x10100000), false});
  return table;
}

TEST(Memslot, AddressSpacesStayApart) {
  static_assert(!std::is_convertible_v<Gpa, Hva>);
  static_assert(!std::is_convertible_v<Hva, Gpa>);
  constexpr Memslot slot{1, Gpa(MiB), 2 * MiB, Hva(0x7f0000000000), false};
  static_assert(slot.contains(Gpa(MiB)) && slot.contains(Gpa(3 * MiB - 1)));
  static_assert(!slot.contains(Gpa(MiB - 1)) && !slot.contains(Gpa(3 * MiB)));
  static_assert(slot.to_hva(Gpa(MiB + 0x1234)) == Hva(0x7f0000001234));
  static_assert(slot.end() == Gpa(3 * MiB));
  EXPECT_EQ(describe(slot), "memslot 1 [0x100000, 0x300000)");
}

TEST(MemslotTable, SortedByBase) {
  const MemslotTable table = three_slots();
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.slots()[0].id, 0u);
  EXPECT_EQ(table.slots()[1].id, 1u);
  EXPECT_EQ(table.slots()[2].id, 7u);
}

TEST(MemslotTable, FindAtBoundariesAndInHoles) {
  const MemslotTable table = three_slots();
  struct Case {
    std::uint64_t gpa;
    int id;  // -1: no slot (MMIO)
  };
  for (const Case& c :
       {Case{0, 0}, Case{640 * KiB - 1, 0}, Case{640 * KiB, -1}, Case{MiB - 1, -1}, Case{MiB, 1},
        Case{3 * MiB - 1, 1}, Case{3 * MiB, -1}, Case{4 * GiB - 1, -1}, Case{4 * GiB, 7},
        Case{5 * GiB - 1, 7}, Case{5 * GiB, -1}, Case{~0ULL, -1}, Case{2 * MiB, 1}, Case{0, 0}}) {
    SCOPED_TRACE(c.gpa);
    const Memslot* slot = table.find(Gpa(c.gpa));
    if (c.id < 0) {
      EXPECT_EQ(slot, nullptr);
    } else {
      ASSERT_NE(slot, nullptr);
      EXPECT_EQ(slot->id, static_cast<std::uint32_t>(c.id));
    }
  }
  EXPECT_EQ(table.find(Gpa(MiB + 0x42))->to_hva(Gpa(MiB + 0x42)), Hva(0x10100042));
  EXPECT_EQ(MemslotTable().find(Gpa(0)), nullptr);
}

TEST(MemslotTable, FindAgreesWithALinearScan) {
  // Many slots of varied sizes with holes; every probe (in an order that defeats the
  // last-used shortcut half of the time) answers as a scan of all slots would.
  MemslotTable table;
  std::uint64_t base = 0;
  for (std::uint32_t id = 0; id < 100; ++id) {
    const std::uint64_t bytes = 4096 * (1 + id % 5);
    table.add({id, Gpa(base), bytes, Hva(0x100000000 + base), false});
    base += bytes + 4096 * (id % 3);  // holes of 0, 4K or 8K
  }
  for (std::uint64_t gpa = 0; gpa < base + 8192; gpa += 2048) {
    for (std::uint64_t probe : {gpa, (gpa * 7919) % (base + 8192)}) {
      const Memslot* expected = nullptr;
      for (const Memslot& slot : table.slots()) {
        if (slot.contains(Gpa(probe))) {
          expected = &slot;
        }
      }
      ASSERT_EQ(table.find(Gpa(probe)), expected) << probe;
    }
  }
}

TEST(MemslotTable, AddRefusesOverlapsNamingBothSlots) {
  MemslotTable table = three_slots();
  EXPECT_EQ(error_of([&] {
              table.add({3, Gpa(2 * MiB), 2 * MiB, Hva(0), false});
            }),
            "memslot 3 [0x200000, 0x400000) overlaps memslot 1 [0x100000, 0x300000)");
  EXPECT_EQ(error_of([&] {
              table.add({3, Gpa(0), 8 * GiB, Hva(0), false});
            }),
            "memslot 3 [0x0, 0x200000000) overlaps memslot 0 [0x0, 0xa0000)");
  EXPECT_EQ(error_of([&] {
              table.add({3, Gpa(5 * GiB - 4096), 4096, Hva(0), false});
            }),
            "memslot 3 [0x13ffff000, 0x140000000) overlaps memslot 7 [0x100000000, 0x140000000)");
  EXPECT_EQ(error_of([&] {
              table.add({1, Gpa(8 * GiB), 4096, Hva(0), false});
            }),
            "memslot 1 [0x200000000, 0x200001000): id 1 is taken by memslot 1 [0x100000, "
            "0x300000)");
  EXPECT_EQ(table.size(), 3u) << "refused adds change nothing";
  // Adjacent slots are fine, on either side; so are two slots over the same HVAs.
  table.add({2, Gpa(640 * KiB), 384 * KiB, Hva(0x10000000), false});
  table.add({3, Gpa(3 * MiB), 4096, Hva(0x10000000), false});
  EXPECT_EQ(table.find(Gpa(640 * KiB))->id, 2u);
  EXPECT_EQ(table.find(Gpa(3 * MiB))->id, 3u);
}

TEST(MemslotTable, AddRefusesMisalignedEmptyAndWrapping) {
  MemslotTable table;
  EXPECT_THAT(error_of([&] {
                table.add({1, Gpa(0x800), 4096, Hva(0), false});
              }),
              HasSubstr("base, size and hva must be multiples of 4 KiB"));
  EXPECT_THAT(error_of([&] {
                table.add({1, Gpa(0), 100, Hva(0), false});
              }),
              HasSubstr("base, size and hva must be multiples of 4 KiB"));
  EXPECT_THAT(error_of([&] {
                table.add({1, Gpa(0), 4096, Hva(0x10), false});
              }),
              HasSubstr("base, size and hva must be multiples of 4 KiB"));
  EXPECT_EQ(error_of([&] {
              table.add({1, Gpa(0), 0, Hva(0), false});
            }),
            "memslot 1 [0x0, 0x0): a memslot has at least one page");
  EXPECT_THAT(error_of([&] {
                table.add({1, Gpa(~0xfffULL), 8192, Hva(0), false});
              }),
              HasSubstr("extends past the top of the address space"));
  EXPECT_TRUE(table.empty());
}

TEST(MemslotTable, RemoveReturnsTheRangeToZap) {
  MemslotTable table = three_slots();
  ASSERT_EQ(table.find(Gpa(2 * MiB))->id, 1u);  // the last-used shortcut now points at it
  const Memslot removed = table.remove(1);
  EXPECT_EQ(removed, (Memslot{1, Gpa(MiB), 2 * MiB, Hva(0x10100000), false}));
  EXPECT_EQ(table.find(Gpa(2 * MiB)), nullptr) << "deleted memory is MMIO now";
  EXPECT_EQ(table.find_id(1), nullptr);
  EXPECT_EQ(table.find(Gpa(4 * GiB))->id, 7u);
  EXPECT_EQ(error_of([&] { table.remove(1); }), "memslot 1: no such slot to delete");
  // The id and the range are free again.
  table.add({1, Gpa(MiB), MiB, Hva(0x30000000), false});
  EXPECT_EQ(table.find(Gpa(MiB))->hva, Hva(0x30000000));
}

TEST(MemslotTable, MoveKeepsSizeAndHva) {
  MemslotTable table = three_slots();
  const Memslot old = table.move(1, Gpa(8 * GiB));
  EXPECT_EQ(old, (Memslot{1, Gpa(MiB), 2 * MiB, Hva(0x10100000), false})) << "the range to zap";
  EXPECT_EQ(table.find(Gpa(MiB)), nullptr);
  const Memslot* moved = table.find(Gpa(8 * GiB + 4096));
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(*moved, (Memslot{1, Gpa(8 * GiB), 2 * MiB, Hva(0x10100000), false}));
  EXPECT_EQ(moved->to_hva(Gpa(8 * GiB + 4096)), Hva(0x10101000)) << "same HVAs, new GPAs";
  EXPECT_EQ(table.slots().back().id, 1u) << "still sorted by base";
  // A move may overlap the slot's own old range.
  EXPECT_EQ(table.move(1, Gpa(8 * GiB + MiB)).base, Gpa(8 * GiB));
  EXPECT_EQ(table.find(Gpa(8 * GiB)), nullptr);
  EXPECT_EQ(table.find(Gpa(8 * GiB + 3 * MiB - 1))->id, 1u);
}

TEST(MemslotTable, MoveRefusalsLeaveTheTableAlone) {
  MemslotTable table = three_slots();
  EXPECT_EQ(error_of([&] { table.move(1, Gpa(4 * GiB + GiB - MiB)); }),
            "memslot 1 [0x13ff00000, 0x140100000) overlaps memslot 7 [0x100000000, 0x140000000)");
  EXPECT_THAT(error_of([&] { table.move(1, Gpa(0x1800)); }),
              HasSubstr("base, size and hva must be multiples of 4 KiB"));
  EXPECT_EQ(error_of([&] { table.move(5, Gpa(0)); }), "memslot 5: no such slot to move");
  EXPECT_EQ(table.find(Gpa(MiB))->id, 1u);
  EXPECT_EQ(table.find_id(1)->base, Gpa(MiB));
}

}  // namespace
}  // namespace pagesim::host
