#include "models/os/native_os.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>

#include "models/paging/pte.h"
#include "models/walker/walker_test_machine.h"

namespace pagesim::os {
namespace {

namespace pte = paging::pte;
using walker::WalkResult;
using walker::testing::caches_on;
using walker::testing::Machine;

constexpr std::uint64_t k4K = 4 * kKiB;
constexpr std::uint64_t kFirst = Machine::kFirstByte;  // 4 KiB frames ascend from here
constexpr std::uint64_t kTop = Machine::kMemoryBytes;  // huge frames descend from here
// Every entry NativeOs writes: P, R/W, U/S; A and D are the walker's; PS on huge leaves.
constexpr std::uint64_t kFlags = pte::kPresent | pte::kRw | pte::kUser;

class NativeOsLevels : public ::testing::TestWithParam<unsigned> {
 protected:
  unsigned levels() const { return GetParam(); }
};

// The documented frame order: the root on first use, then the missing tables top-down,
// then the data frame, each the FrameAllocator's next frame.
TEST_P(NativeOsLevels, FirstFaultFrameOrderWith4KiBPages) {
  Machine m(levels(), PageSize::k4K, caches_on());
  const std::uint64_t va = 0x0000'7f12'3456'7000;
  EXPECT_EQ(m.root(), Hpa(kFirst));  // frame 0x100: the root, allocated on first use
  EXPECT_EQ(m.os.stats().page_table_pages.value(), 1u);

  m.os.handle_page_fault(0, Gva(va), AccessKind::kWrite);
  // Walk the entries by hand: level L's table is frame 0x100 + (levels - L); the data
  // frame is the first from the top of memory.
  std::uint64_t table = kFirst;
  for (unsigned level = levels(); level >= pte::kPt; --level) {
    SCOPED_TRACE("level " + std::to_string(level));
    EXPECT_EQ(table, kFirst + (levels() - level) * k4K);
    const std::uint64_t raw = m.memory.read_u64(Hpa(table | pte::entry_offset(va, level)));
    EXPECT_EQ(raw & ~pte::kAddressMask, kFlags);  // no A, D, PS, G, XD, PWT, PCD
    table = raw & pte::kAddressMask;
  }
  EXPECT_EQ(table, Machine::kMemoryBytes - k4K);               // the data frame
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels());  // root + levels - 1 tables
  EXPECT_EQ(m.frames.table_frames_allocated(), levels());
  EXPECT_EQ(m.frames.frames_allocated(PageSize::k4K), 1u);
  EXPECT_EQ(m.os.stats().page_faults.value(), 1u);
  EXPECT_EQ(m.os.stats().mapped_pages_4k.value(), 1u);

  // The next page shares every table: only a data frame, the next one.
  m.os.handle_page_fault(0, Gva(va + k4K), AccessKind::kRead);
  EXPECT_EQ(m.walker.translate_debug(m.root(), Gva(va + k4K))->page_base,
            Hpa(Machine::kMemoryBytes - 2 * k4K));
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels());
}

TEST_P(NativeOsLevels, Thp2mMaps2MiBLeavesFromTheTop) {
  Machine m(levels(), PageSize::k2M, caches_on());
  const std::uint64_t va = 0x0000'0040'0030'1234;  // inside the 2 MiB region at 0x40'0020'0000
  m.os.handle_page_fault(0, Gva(va), AccessKind::kRead);
  // Tables: root 0x100, then levels - 2 tables down to the PD (PT level not needed).
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels() - 1);
  EXPECT_EQ(m.frames.table_frames_allocated(), levels() - 1u);
  const Hpa pde = m.entry_chain(va).back();
  EXPECT_EQ(pde.value() & ~pte::kAddressMask, pte::entry_offset(va, pte::kPd));
  const std::uint64_t raw = m.memory.read_u64(pde);
  EXPECT_EQ(raw & ~pte::kAddressMask2M, kFlags | pte::kPs);  // a 2 MiB leaf, A = D = 0
  EXPECT_EQ(raw & pte::kAddressMask2M, kTop - 2 * kMiB);     // the highest 2 MiB frame

  const WalkResult r = m.walk(va);
  ASSERT_EQ(r.outcome, WalkResult::Outcome::kOk);
  EXPECT_EQ(r.translation.size, PageSize::k2M);
  EXPECT_EQ(r.translation.hpa_of(va), Hpa(kTop - 2 * kMiB + 0x10'1234));
  EXPECT_EQ(r.refs, levels() - 1);  // one fewer than 4 KiB: the PDE is the leaf

  // The next 2 MiB region: the next frame down, no new table.
  m.os.handle_page_fault(0, Gva(va + 2 * kMiB), AccessKind::kRead);
  EXPECT_EQ(m.walker.translate_debug(m.root(), Gva(va + 2 * kMiB))->page_base,
            Hpa(kTop - 4 * kMiB));
  EXPECT_EQ(m.os.stats().mapped_pages_2m.value(), 2u);
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels() - 1);
}

TEST_P(NativeOsLevels, Thp1gMaps1GiBLeaves) {
  Machine m(levels(), PageSize::k1G, caches_on());
  const std::uint64_t va = 0x0000'0001'2345'6789;  // in the second GiB
  m.os.handle_page_fault(0, Gva(va), AccessKind::kRead);
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels() - 2);  // root .. PDPT
  const std::uint64_t raw = m.memory.read_u64(m.entry_chain(va).back());
  EXPECT_EQ(raw & ~pte::kAddressMask1G, kFlags | pte::kPs);
  EXPECT_EQ(raw & pte::kAddressMask1G, kTop - kGiB);
  EXPECT_EQ(m.walker.translate_debug(m.root(), Gva(va))->size, PageSize::k1G);
  EXPECT_EQ(m.os.stats().mapped_pages_1g.value(), 1u);
}

// Distinct tables a set of 4 KiB pages needs, counted from the address bits that select
// each table: a PT per distinct VA >> 21, a PD per VA >> 30, a PDPT per VA >> 39, a PML4
// (5-level only) per VA >> 48, plus the root.
std::uint64_t tables_for(std::uint64_t first_va, std::uint64_t pages, unsigned levels) {
  std::uint64_t n = 1;
  for (unsigned level = pte::kPt; level < levels; ++level) {
    std::set<std::uint64_t> tables;
    for (std::uint64_t i = 0; i < pages; ++i) {
      tables.insert((first_va + i * k4K) >> pte::index_shift(level + 1));
    }
    n += tables.size();
  }
  return n;
}

TEST_P(NativeOsLevels, PageTablePagesAcross2MiBAnd1GiBBoundaries) {
  Machine m(levels(), PageSize::k4K, caches_on());
  // 1030 pages from 1 GiB - 1 MiB: 256 pages in the last 2 MiB region of GiB 0, then 512
  // and 262 pages in the first two 2 MiB regions of GiB 1.
  //   PTs: 3; PDs: 2 (GiB 0 and GiB 1); PDPT: 1; 5-level adds 1 PML4; root: 1.
  const std::uint64_t first = kGiB - kMiB;
  const std::uint64_t pages = 1030;
  for (std::uint64_t i = 0; i < pages; ++i) {
    ASSERT_EQ(m.touch(first + i * k4K).outcome, WalkResult::Outcome::kOk);
  }
  for (std::uint64_t i = 0; i < pages; ++i) {
    m.touch(first + i * k4K, AccessKind::kWrite);  // mapped: no more faults
  }
  const std::uint64_t expected = levels() == 4 ? 7 : 8;
  EXPECT_EQ(m.os.stats().page_faults.value(), pages);
  EXPECT_EQ(m.os.stats().page_table_pages.value(), expected);
  EXPECT_EQ(tables_for(first, pages, levels()), expected);
  EXPECT_EQ(m.frames.frames_allocated(PageSize::k4K), pages);
  EXPECT_EQ(m.frames.table_frames_allocated(), expected);
}

TEST_P(NativeOsLevels, PageTablePagesAcrossA512GiBBoundary) {
  Machine m(levels(), PageSize::k4K, caches_on());
  // 6 pages from 512 GiB - 12 KiB: 3 below and 3 above the boundary of PML4 entries 0 and 1.
  //   PTs: 2; PDs: 2; PDPTs: 2; 5-level adds 1 PML4 (both in PML5 entry 0); root: 1.
  const std::uint64_t first = 512 * kGiB - 3 * k4K;
  for (std::uint64_t i = 0; i < 6; ++i) {
    m.touch(first + i * k4K);
  }
  const std::uint64_t expected = levels() == 4 ? 7 : 8;
  EXPECT_EQ(m.os.stats().page_faults.value(), 6u);
  EXPECT_EQ(m.os.stats().page_table_pages.value(), expected);
  EXPECT_EQ(tables_for(first, 6, levels()), expected);
}

TEST_P(NativeOsLevels, Thp2mFaultsOncePer2MiBRegion) {
  Machine m(levels(), PageSize::k2M, caches_on());
  // Touch every 256 KiB over 9 MiB from 1 GiB - 3 MiB (aligned to 1 MiB, not 2 MiB): the
  // touches fall in the 2 MiB regions starting at 1 GiB - 4, -2, 0, +2, +4 MiB: 5 faults.
  //   PDs: 2 (GiB 0 and GiB 1); PDPT: 1; 5-level adds 1 PML4; root: 1. No PTs.
  const std::uint64_t first = kGiB - 3 * kMiB;
  for (std::uint64_t off = 0; off < 9 * kMiB; off += 256 * kKiB) {
    ASSERT_EQ(m.touch(first + off).translation.size, PageSize::k2M);
  }
  EXPECT_EQ(m.os.stats().page_faults.value(), 5u);
  EXPECT_EQ(m.os.stats().mapped_pages_2m.value(), 5u);
  EXPECT_EQ(m.os.stats().mapped_pages_4k.value(), 0u);
  EXPECT_EQ(m.os.stats().page_table_pages.value(), levels() == 4 ? 4u : 5u);
  EXPECT_EQ(m.frames.frames_allocated(PageSize::k2M), 5u);
}

TEST_P(NativeOsLevels, AddressSpacesHaveTheirOwnRoots) {
  Machine m(levels(), PageSize::k4K, caches_on());
  m.map(0x1000, 0);  // tables: the root and levels - 1 below it, frames 0x100 .. 0x100 + levels - 1
  const Hpa root3 = m.os.address_space_root(3);
  EXPECT_EQ(root3, Hpa(kFirst + levels() * k4K));  // the next table frame, on first use
  EXPECT_EQ(m.os.address_space_root(3), root3);    // allocated once
  EXPECT_EQ(m.os.address_space_root(0), Hpa(kFirst));
  m.map(0x1000, 3);
  EXPECT_NE(m.walker.translate_debug(root3, Gva(0x1000))->page_base,
            m.walker.translate_debug(m.root(0), Gva(0x1000))->page_base);
}

INSTANTIATE_TEST_SUITE_P(FourAndFive, NativeOsLevels, ::testing::Values(4u, 5u),
                         [](const ::testing::TestParamInfo<unsigned>& i) {
                           return "L" + std::to_string(i.param);
                         });

TEST(NativeOs, FaultCostScalesWithTheZeroedBytes) {
  // os_params.h: page_fault_latency for 4 KiB; huge pages add clear_page_latency per
  // further 4 KiB zeroed (511 for 2 MiB, 262143 for 1 GiB).
  const OsParams p{.page_fault_latency = Cycles(2600), .clear_page_latency = Cycles(1000)};
  mem::PhysicalMemory memory(8 * kGiB);
  mem::FrameAllocator frames(8 * kGiB, kMiB);
  for (auto [thp, cost] : {std::pair{Thp::kNever, 2600u}, std::pair{Thp::k2M, 2600u + 511'000u},
                           std::pair{Thp::k1G, 2600u + 262'143'000u}}) {
    OsParams q = p;
    q.thp = thp;
    NativeOs os(q, 4, memory, frames, nullptr);
    EXPECT_EQ(os.fault_latency(thp_page_size(thp)), Cycles(cost));
    EXPECT_EQ(os.handle_page_fault(0, Gva(0), AccessKind::kRead), Cycles(cost));
    EXPECT_EQ(os.stats().cycles.value(), cost);
  }
}

TEST(NativeOs, FaultOnAMappedPageIsAProgrammingError) {
  Machine m(4, PageSize::k4K, caches_on());
  m.map(0x5000);
  EXPECT_THROW(m.map(0x5000), std::logic_error);
}

TEST(NativeOs, FaultWhereAnotherPageSizeIsMappedIsAProgrammingError) {
  // With one os.thp this cannot happen; build the mixed state by hand.
  Machine m(4, PageSize::k4K, caches_on());
  m.map(0x5000);
  const Hpa pde = m.entry_chain(0x5000)[4 - pte::kPd];
  m.memory.write_u64(pde, m.memory.read_u64(pde) | pte::kPs);  // now a 2 MiB leaf
  EXPECT_THROW(m.map(0x6000), std::logic_error);

  Machine h(4, PageSize::k2M, caches_on());
  // A PD entry that references a page table (4 KiB pages) where a 2 MiB leaf would go.
  h.map(0);
  const Hpa pde2 = h.entry_chain(0).back();
  h.memory.write_u64(pde2, h.memory.read_u64(pde2) & ~pte::kPs);
  EXPECT_THROW(h.map(0), std::logic_error);
}

TEST(NativeOs, OutOfMemoryIsReported) {
  // 4 MiB of memory, 4 KiB frames from 1 MiB: one 2 MiB frame fits at [2 MiB, 4 MiB); the
  // next would be at 0, below the small frames.
  mem::PhysicalMemory memory(4 * kMiB);
  mem::FrameAllocator frames(4 * kMiB, kMiB);
  NativeOs os(OsParams{.thp = Thp::k2M}, 4, memory, frames, nullptr);
  os.handle_page_fault(0, Gva(0), AccessKind::kRead);
  EXPECT_THROW(os.handle_page_fault(0, Gva(2 * kMiB), AccessKind::kRead), mem::OutOfMemory);
}

TEST(NativeOs, LevelsOtherThanFourOrFiveAreRejected) {
  mem::PhysicalMemory memory(16 * kMiB);
  mem::FrameAllocator frames(16 * kMiB, kMiB);
  EXPECT_THROW(NativeOs(OsParams{}, 3, memory, frames, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace pagesim::os
